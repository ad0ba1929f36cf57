namespace Platform.Model.Tests; public class Placeholder { [Xunit.Fact] public void Builds() { } }
