using Platform.Model.Tests;

namespace Platform.Benchmarks.Tests;

public class DecodeBenchmarkTests
{
    [Fact]
    public void BenchmarkTimesBothDecodersOnTheSameCaptions()
    {
        var result = DecodeBenchmark.Run(TestModels.Micro, images: 3, captionTokens: 8, rounds: 3, threads: 1);
        Assert.True(result.SameCaptions, "the cached decoder must caption as the uncached one does");
        Assert.Equal(3, result.Rounds.Count);
        Assert.All(result.Rounds, r => Assert.True(r.CachedSeconds > 0 && r.UncachedSeconds > 0));
        Assert.InRange(result.MeanCaptionTokens, 0, 8);
        // The speedup is the middle round's, each round's uncached time over its own cached time.
        Assert.Equal(result.Rounds.Select(r => r.UncachedSeconds / r.CachedSeconds).Order().ElementAt(1), result.Speedup, 12);
        // Medians: the middle round of three for each decoder.
        Assert.Equal(3 / result.Rounds.Select(r => r.CachedSeconds).Order().ElementAt(1), result.CachedCaptionsPerSecond, 9);
    }
}
