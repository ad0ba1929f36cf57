namespace Platform.Benchmarks.Tests;

public class TokenizerBenchmarkTests
{
    [Fact]
    public void BenchmarkTimesBothEncodersOnTheSameIdsAndReportsTheRatioOfMedians()
    {
        var result = TokenizerBenchmark.Run(vocabSize: 1_000, trainingTexts: 2_000, texts: 500, rounds: 3, seed: 2);
        Assert.True(result.SameIds, "the platform's encoder must give Microsoft.ML.Tokenizers' ids on every text");
        Assert.Equal(3, result.Rounds.Count);
        Assert.All(result.Rounds, r => Assert.True(r.OursSeconds > 0 && r.MlNetSeconds > 0));
        Assert.Equal(500, result.Texts);
        Assert.True(result.Tokens > result.Texts, $"{result.Tokens} tokens for {result.Texts} texts");
        Assert.Equal(result.OursTokensPerSecond / result.MlNetTokensPerSecond, result.Ratio, 12);
        // Medians: the middle round of three for each encoder.
        Assert.Equal(result.Tokens / result.Rounds.Select(r => r.MlNetSeconds).Order().ElementAt(1), result.MlNetTokensPerSecond, 6);
    }

    [Fact]
    public void GeneratedWebTextIsTheSameForTheSameSeedAndDiffersForAnother()
    {
        Assert.Equal(WebTextGenerator.Texts(5, 50), WebTextGenerator.Texts(5, 50));
        Assert.NotEqual(WebTextGenerator.Texts(5, 50), WebTextGenerator.Texts(6, 50));
        Assert.Contains(WebTextGenerator.Texts(5, 500), text => text.Any(c => c > 0x7F));
    }
}
