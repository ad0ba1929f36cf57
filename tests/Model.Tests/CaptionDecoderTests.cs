using CsCheck;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>Decoding properties that hold for any weights (the trained case is in TrainingTests).</summary>
public class CaptionDecoderTests
{
    private static readonly SimVlmConfig Config = TestModels.Micro;

    [Fact]
    public void BeamOfOneIsGreedy()
    {
        Gen.ULong.Sample(seed =>
        {
            using var scope = NewDisposeScope();
            var model = TestModels.NewModel(Config, (long)(seed % 1000));
            var random = new DeterministicRandom(seed);
            var image = tensor(TestModels.RandomPixels(Config, random), [3, Config.ImageSize, Config.ImageSize]);
            int[] prompt = TestModels.RandomText(Config, random, random.Next(1, 4))[..^1];
            var greedy = CaptionDecoder.Greedy(model, image.unsqueeze(0), [prompt], maxTokens: 8)[0];
            var beam = CaptionDecoder.Beam(model, image, prompt, beamSize: 1, maxTokens: 8);
            Assert.Equal(greedy.Tokens, beam.Tokens);
            Assert.Equal(greedy.LogProbability, beam.LogProbability, 1e-4); // a tolerance, not rounding to 4 places: two sums a few 1e-6 apart can round apart
        }, iter: 10);
    }

    [Fact]
    public void BatchedGreedyMatchesOneSampleAtATime()
    {
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 21);
        var random = new DeterministicRandom(21);
        int[][] prompts = [[], [5, 6, 7], [9]];
        var images = tensor(Enumerable.Range(0, 3).SelectMany(_ => TestModels.RandomPixels(Config, random)).ToArray(), [3, 3, Config.ImageSize, Config.ImageSize]);
        var batched = CaptionDecoder.Greedy(model, images, prompts, maxTokens: 10);
        for (int i = 0; i < 3; i++)
        {
            var alone = CaptionDecoder.Greedy(model, images[i..(i + 1)], [prompts[i]], maxTokens: 10)[0];
            Assert.Equal(alone.Tokens, batched[i].Tokens);
        }
    }

    [Fact]
    public void DecodingRespectsTheLengthLimitAndNeverEmitsSpecialTokens()
    {
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 22);
        var random = new DeterministicRandom(22);
        var images = tensor(TestModels.RandomPixels(Config, random), [1, 3, Config.ImageSize, Config.ImageSize]);
        var decoded = CaptionDecoder.Greedy(model, images, [[]], maxTokens: 5)[0];
        Assert.InRange(decoded.Tokens.Length, 0, 5);
        Assert.All(decoded.Tokens, t => Assert.InRange(t, SpecialTokens.Count, Config.VocabSize - 1));
        Assert.True(decoded.LogProbability <= 0);
        var beam = CaptionDecoder.Beam(model, images[0], [4, 5], beamSize: 3, maxTokens: 50);
        Assert.InRange(beam.Tokens.Length, 0, Config.MaxTextLength - 2);
        Assert.Throws<ArgumentException>(() => CaptionDecoder.Greedy(model, null, [[]], maxTokens: 5));
    }
}
