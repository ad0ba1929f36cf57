using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>
/// Decoding with the key/value cache against the uncached decoder, which reruns the whole text
/// every token: same logits, same captions, greedy and beam, batched with prompts of different lengths.
/// </summary>
public class KeyValueCacheTests
{
    private static readonly SimVlmConfig Config = TestModels.Micro;

    private static Tensor RandomImages(DeterministicRandom random, int count) =>
        tensor(Enumerable.Range(0, count).SelectMany(_ => TestModels.RandomPixels(Config, random)).ToArray(), [count, 3, Config.ImageSize, Config.ImageSize]);

    /// <summary>Prompts of 0 to 3 ordinary tokens, so that rows decode from different text positions.</summary>
    private static int[][] RandomPrompts(DeterministicRandom random, int count) =>
        Enumerable.Range(0, count).Select(_ => TestModels.RandomText(Config, random, random.Next(1, 5))[..^1]).ToArray();

    [Fact]
    public void EachStepGivesTheFullDecodersLogitsAtTheLastPosition()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 31);
        var random = new DeterministicRandom(31);
        int rows = 3, length = 6;
        long[] promptLengths = [0, 2, 5];
        var (encoded, valid) = model.Encode(RandomImages(random, rows), zeros(rows, 0, dtype: ScalarType.Int64), zeros(rows, 0, dtype: ScalarType.Bool));
        var text = tensor(Enumerable.Range(0, rows * length).Select(i => i % length == 0 ? SpecialTokens.Bos : (long)random.Next(SpecialTokens.Count, Config.VocabSize)).ToArray(), [rows, length]);
        var positions = tensor(promptLengths, [rows, 1]) + arange(length, dtype: ScalarType.Int64);
        var full = model.Decode(encoded, valid, text, positions, ones(rows, length, dtype: ScalarType.Bool));

        using var cache = model.StartDecoding(encoded, valid);
        for (int t = 0; t < length; t++)
        {
            var step = model.DecodeStep(cache, text[.., t], positions[.., t]);
            Assert.Equal(t + 1, cache.Length);
            var expected = TestModels.Values(full[.., t]);
            var actual = TestModels.Values(step);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-5);
        }
    }

    [Fact]
    public void CachedGreedyDecodesTheUncachedCaptions()
    {
        int endedEarly = 0, decoded = 0;
        for (int seed = 0; seed < 8; seed++)
        {
            using var scope = NewDisposeScope();
            var model = TestModels.NewModel(Config, 100 + seed);
            var random = new DeterministicRandom((ulong)seed);
            int batch = random.Next(2, 6);
            var images = RandomImages(random, batch);
            var prompts = RandomPrompts(random, batch);
            var uncached = CaptionDecoder.Greedy(model, images, prompts, maxTokens: 12, useKeyValueCache: false);
            var cached = CaptionDecoder.Greedy(model, images, prompts, maxTokens: 12);
            for (int i = 0; i < batch; i++)
            {
                Assert.Equal(uncached[i].Tokens, cached[i].Tokens);
                Assert.Equal(uncached[i].LogProbability, cached[i].LogProbability, 1e-4);
                if (cached[i].Tokens.Length < Math.Min(12, Config.MaxTextLength - prompts.Max(p => p.Length))) endedEarly++;
                decoded++;
            }
        }
        // Captions of different lengths: rows leave the cache as their captions end.
        Assert.InRange(endedEarly, 1, decoded - 1);
    }

    [Fact]
    public void CachedBeamSearchDecodesTheUncachedCaptions()
    {
        for (int seed = 0; seed < 6; seed++)
        {
            using var scope = NewDisposeScope();
            var model = TestModels.NewModel(Config, 200 + seed);
            var random = new DeterministicRandom((ulong)(50 + seed));
            int batch = random.Next(2, 5), beamSize = random.Next(2, 5);
            var images = RandomImages(random, batch);
            var prompts = RandomPrompts(random, batch);
            var uncached = CaptionDecoder.BeamBatch(model, images, prompts, beamSize, maxTokens: 10, lengthPenalty: 0.6, useKeyValueCache: false);
            var cached = CaptionDecoder.BeamBatch(model, images, prompts, beamSize, maxTokens: 10, lengthPenalty: 0.6);
            for (int i = 0; i < batch; i++)
            {
                Assert.Equal(uncached[i].Tokens, cached[i].Tokens);
                Assert.Equal(uncached[i].LogProbability, cached[i].LogProbability, 1e-4);
            }
        }
    }

    [Fact]
    public void BatchedBeamSearchMatchesOneImageAtATime()
    {
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 41);
        var random = new DeterministicRandom(41);
        var images = RandomImages(random, 4);
        int[][] prompts = [[], [5, 6, 7], [9], [10, 11]];
        var batched = CaptionDecoder.BeamBatch(model, images, prompts, beamSize: 3, maxTokens: 10);
        for (int i = 0; i < 4; i++)
        {
            var alone = CaptionDecoder.BeamBatch(model, images[i..(i + 1)], [prompts[i]], beamSize: 3, maxTokens: 10, useKeyValueCache: false)[0];
            Assert.Equal(alone.Tokens, batched[i].Tokens);
            Assert.Equal(alone.LogProbability, batched[i].LogProbability, 1e-4);
        }
    }
}
