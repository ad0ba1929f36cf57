using CsCheck;

namespace Platform.Model.Tests;

/// <summary>PrefixLM batching: per-sample splits that keep the whole image in the prefix, padding, mixing.</summary>
public class PrefixLmTests
{
    private static readonly SimVlmConfig Config = TestModels.Micro;

    [Fact]
    public void AFixedTextPrefixLengthIsKeptForEverySampleWhateverTheRandomState()
    {
        // Task fine-tuning (VQA): the question is always the prefix and only the answer is predicted.
        Gen.Select(Gen.ULong, Gen.Int[2, Config.MaxTextLength]).Sample((seed, length) =>
        {
            var random = new DeterministicRandom(seed);
            var text = TestModels.RandomText(Config, random, length);
            int questionLength = random.Next(0, length);
            var sample = new PrefixLmSample(TestModels.RandomPixels(Config, random), text, questionLength);
            using var batch = PrefixLm.Build([sample, sample, sample], Config, random);
            Assert.All(batch.PrefixTextLengths, p => Assert.Equal(questionLength, p));
            Assert.Equal(text[questionLength..].Select(t => (long)t), batch.Targets[0].data<long>().ToArray());
        }, iter: 50);
    }

    [Fact]
    public void ImageTextPrefixCoversTheWholeImageAndTheTextIsSplitWithoutLoss()
    {
        Gen.Select(Gen.ULong, Gen.Int[1, 12], Gen.Int[2, Config.MaxTextLength]).Sample((seed, count, maxLength) =>
        {
            var random = new DeterministicRandom(seed);
            var samples = Enumerable.Range(0, count).Select(_ => TestModels.ImageTextSample(Config, random, random.Next(1, maxLength + 1))).ToArray();
            using var batch = PrefixLm.Build(samples, Config, random);
            long[] prefix = batch.PrefixTokens.numel() == 0 ? [] : batch.PrefixTokens.data<long>().ToArray();
            long[] targets = batch.Targets.data<long>().ToArray();
            long[] input = batch.DecoderInput.data<long>().ToArray(), positions = batch.DecoderPositions.data<long>().ToArray();
            int prefixWidth = (int)batch.PrefixTokens.shape[1], suffixWidth = (int)batch.Targets.shape[1];
            for (int i = 0; i < count; i++)
            {
                int[] text = samples[i].Text;
                Assert.Equal(Config.ImageTokens, batch.ImageTokens);
                Assert.True(batch.PrefixLengths[i] >= Config.ImageTokens, "Tp >= Ti");
                Assert.Equal(Config.ImageTokens + batch.PrefixTextLengths[i], batch.PrefixLengths[i]);
                Assert.True(batch.SuffixLengths[i] >= 1);
                int p = batch.PrefixTextLengths[i];
                var rebuilt = prefix.Skip(i * prefixWidth).Take(p)
                    .Concat(targets.Skip(i * suffixWidth).Take(batch.SuffixLengths[i])).Select(t => (int)t);
                Assert.Equal(text, rebuilt);
                Assert.All(targets.Skip(i * suffixWidth + batch.SuffixLengths[i]).Take(suffixWidth - batch.SuffixLengths[i]), t => Assert.Equal(PrefixLmBatch.IgnoredTarget, t));
                // Teacher forcing: the decoder sees BOS then the suffix shifted by one, at the text positions it predicts.
                Assert.Equal(SpecialTokens.Bos, input[i * suffixWidth]);
                for (int t = 1; t < batch.SuffixLengths[i]; t++) Assert.Equal(text[p + t - 1], input[i * suffixWidth + t]);
                for (int t = 0; t < batch.SuffixLengths[i]; t++) Assert.Equal(p + t, positions[i * suffixWidth + t]);
            }
        }, iter: 100);
    }

    [Fact]
    public void TextOnlySplitLeavesAtLeastOneTokenOnEachSide()
    {
        Gen.Select(Gen.ULong, Gen.Int[1, 8], Gen.Int[2, Config.MaxTextLength]).Sample((seed, count, length) =>
        {
            var random = new DeterministicRandom(seed);
            var samples = Enumerable.Range(0, count).Select(_ => TestModels.TextOnlySample(Config, random, length)).ToArray();
            using var batch = PrefixLm.Build(samples, Config, random);
            Assert.Null(batch.Images);
            Assert.Equal(0, batch.ImageTokens);
            Assert.All(batch.PrefixLengths, tp => Assert.InRange(tp, 1, length - 1));
            Assert.Equal(batch.PrefixLengths, batch.PrefixTextLengths);
        }, iter: 100);
    }

    [Fact]
    public void PrefixLengthsAreDrawnPerSampleAndCoverTheWholeRange()
    {
        var random = new DeterministicRandom(7);
        var samples = Enumerable.Range(0, 32).Select(_ => TestModels.ImageTextSample(Config, random, 10)).ToArray();
        using var batch = PrefixLm.Build(samples, Config, random);
        Assert.True(batch.PrefixLengths.Distinct().Count() > 1, "prefix lengths must differ within a batch");

        var seen = new HashSet<int>();
        for (int draw = 0; draw < 500; draw++) seen.Add(PrefixLm.DrawTextPrefixLength(samples[0], random));
        Assert.Equal(Enumerable.Range(0, 10), seen.Order()); // empty text prefix up to all but the last token
    }

    [Fact]
    public void SameSeedGivesTheSameSplits()
    {
        var samples = Enumerable.Range(0, 16).Select(i => TestModels.ImageTextSample(Config, new DeterministicRandom((ulong)i), 12)).ToArray();
        using var first = PrefixLm.Build(samples, Config, new DeterministicRandom(99));
        using var second = PrefixLm.Build(samples, Config, new DeterministicRandom(99));
        using var other = PrefixLm.Build(samples, Config, new DeterministicRandom(100));
        Assert.Equal(first.PrefixLengths, second.PrefixLengths);
        Assert.NotEqual(first.PrefixLengths, other.PrefixLengths);
    }

    [Fact]
    public void BatchesRejectMixedKindsAndSplitsThatLeaveNoSuffix()
    {
        var random = new DeterministicRandom(1);
        var image = TestModels.ImageTextSample(Config, random, 5);
        var text = TestModels.TextOnlySample(Config, random, 5);
        Assert.Throws<ArgumentException>(() => PrefixLm.Build([image, text], Config, random));
        Assert.Throws<ArgumentException>(() => PrefixLm.Build([image], [5], Config));
        Assert.Throws<ArgumentException>(() => PrefixLm.Build([text], [0], Config));
        Assert.Throws<ArgumentException>(() => PrefixLm.Build([new PrefixLmSample(null, [SpecialTokens.Eos])], Config, random));
        Assert.Throws<ArgumentException>(() => PrefixLm.Build([new PrefixLmSample(new float[7], [5, SpecialTokens.Eos])], Config, random));
    }

    [Theory]
    [InlineData(9, 8, 1)]
    [InlineData(18, 16, 2)]
    [InlineData(4608, 4096, 512)]
    [InlineData(4, 4, 0)]
    [InlineData(5, 4, 1)]
    public void StepsMixImageTextAndTextOnlyEightToOneByDefault(int perStep, int imageText, int textOnly) =>
        Assert.Equal((imageText, textOnly), PrefixLm.SplitStep(perStep));

    [Fact]
    public void StepSplitHonoursOtherRatiosAndKeepsEverySample()
    {
        Gen.Select(Gen.Int[1, 5000], Gen.Int[0, 20], Gen.Int[0, 20]).Where((_, a, b) => a + b > 0).Sample((n, a, b) =>
        {
            var (imageText, textOnly) = PrefixLm.SplitStep(n, a, b);
            Assert.Equal(n, imageText + textOnly);
            Assert.True(Math.Abs(textOnly - (double)n * b / (a + b)) <= 0.5);
        });
    }
}
