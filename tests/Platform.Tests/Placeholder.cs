namespace Platform.Platform.Tests; public class Placeholder { [Xunit.Fact] public void Builds() { } }
