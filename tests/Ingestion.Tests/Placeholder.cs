namespace Platform.Ingestion.Tests; public class Placeholder { [Xunit.Fact] public void Builds() { } }
