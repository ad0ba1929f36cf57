using Platform.Model.Tests;

namespace Platform.Benchmarks.Tests;

public class TrainScaleBenchmarkTests
{
    [Fact]
    public void TwoReplicasTrainTwiceTheTokensAndTheEfficiencyComparesTheirRates()
    {
        var settings = new TrainScaleSettings("micro", SamplesPerStep: 3, SyncEvery: 2, Rounds: 2, WarmupSteps: 1, Seed: 4);
        var result = TrainScaleBenchmark.Run(settings, TestModels.Micro);

        Assert.Equal(1, result.One.Trainers);
        Assert.Equal(2, result.Two.Trainers);
        // Every sample is as long as the model allows, so each step trains the same tokens: two replicas, twice the tokens.
        Assert.True(result.One.Tokens > 0);
        Assert.Equal(2 * result.One.Tokens, result.Two.Tokens);
        Assert.True(result.One.Seconds > 0 && result.Two.Seconds > 0);
        Assert.InRange(result.Two.SyncSeconds, 0, result.Two.Seconds);
        Assert.Equal(result.Two.TokensPerSecond / (2 * result.One.TokensPerSecond), result.ScaleEfficiency, 12);
        Assert.StartsWith("scale_efficiency=", result.Lines().Last());
    }
}
