using CsCheck;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>The encoder-decoder's attention pattern, loss and bookkeeping.</summary>
public class SimVlmModelTests
{
    private static readonly SimVlmConfig Config = TestModels.Micro;

    private static PrefixLmSample[] ImageTextSamples(DeterministicRandom random, int count) =>
        Enumerable.Range(0, count).Select(_ => TestModels.ImageTextSample(Config, random, random.Next(4, Config.MaxTextLength + 1))).ToArray();

    [Fact]
    public void PresetsHaveThePaperShapes()
    {
        Assert.Equal(196, SimVlmConfig.Base.ImageTokens);
        Assert.Equal((12, 768, 3072, 12), (SimVlmConfig.Base.EncoderLayers, SimVlmConfig.Base.Width, SimVlmConfig.Base.MlpWidth, SimVlmConfig.Base.Heads));
        Assert.Equal(16, SimVlmConfig.Tiny.ImageTokens);
        Assert.Same(SimVlmConfig.Tiny.GetType(), SimVlmConfig.Preset("TINY").GetType());
        Assert.Equal(SimVlmConfig.Tiny.Width, SimVlmConfig.Preset("tiny").Width);
        Assert.Throws<ArgumentException>(() => SimVlmConfig.Preset("huge-ish"));
        Assert.Throws<ArgumentException>(() => (Config with { Width = 33 }).Validate());
        Assert.Throws<ArgumentException>(() => (Config with { PatchSize = 4 }).Validate());
    }

    [Fact]
    public void TinyPresetEncodesAnImageIntoItsPatchGrid()
    {
        using var scope = NewDisposeScope();
        var tiny = SimVlmConfig.Tiny;
        var model = TestModels.NewModel(tiny, 1);
        var random = new DeterministicRandom(1);
        using var batch = PrefixLm.Build([TestModels.ImageTextSample(tiny, random, 6), TestModels.ImageTextSample(tiny, random, 9)], [2, 3], tiny);
        var (states, valid) = model.Encode(batch.Images, batch.PrefixTokens, batch.PrefixValid);
        Assert.Equal(new long[] { 2, tiny.ImageTokens + 3, tiny.Width }, states.shape);
        Assert.Equal(new[] { true, true, false }, valid[0, tiny.ImageTokens..].data<bool>().ToArray());
        Assert.Equal(new long[] { 2, 6, tiny.VocabSize }, model.Forward(batch).shape); // suffixes of 4 and 6 tokens
    }

    [Fact]
    public void ChangingASuffixTokenNeverChangesEarlierPositions()
    {
        using var model = TestModels.NewModel(Config, 2);
        Gen.Select(Gen.ULong, Gen.Int[0, 3]).Sample((seed, which) =>
        {
            using var scope = NewDisposeScope();
            var random = new DeterministicRandom(seed);
            var samples = ImageTextSamples(random, 4);
            var splits = samples.Select(s => PrefixLm.DrawTextPrefixLength(s, random)).ToArray();
            int suffixLength = samples[which].Text.Length - splits[which];
            if (suffixLength < 2) return; // nothing after the changed token to compare with
            int changed = random.Next(0, suffixLength - 1); // a suffix token that is not the last
            var altered = (int[])samples[which].Text.Clone();
            altered[splits[which] + changed] = SpecialTokens.Count + (altered[splits[which] + changed] - SpecialTokens.Count + 1) % (Config.VocabSize - SpecialTokens.Count);
            var alteredSamples = samples.Select((s, i) => i == which ? s with { Text = altered } : s).ToArray();

            using var before = PrefixLm.Build(samples, splits, Config);
            using var after = PrefixLm.Build(alteredSamples, splits, Config);
            var logitsBefore = model.Forward(before);
            var logitsAfter = model.Forward(after);
            // Position t predicts suffix token t from suffix tokens before it: those up to `changed` must not move.
            var unchanged = logitsBefore[which, ..(changed + 1)];
            Assert.Equal(TestModels.Values(unchanged), TestModels.Values(logitsAfter[which, ..(changed + 1)]));
            Assert.False(allclose(logitsBefore[which, changed + 1], logitsAfter[which, changed + 1]), "the next position must see the change");
            for (int other = 0; other < samples.Length; other++)
                if (other != which) Assert.Equal(TestModels.Values(logitsBefore[other]), TestModels.Values(logitsAfter[other]));
        }, iter: 20);
    }

    [Fact]
    public void ChangingAnyPrefixTokenChangesEveryPosition()
    {
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 3);
        var random = new DeterministicRandom(3);
        var samples = ImageTextSamples(random, 3);
        int[] splits = [3, 2, 1];
        using var original = PrefixLm.Build(samples, splits, Config);
        var baseline = model.Forward(original);

        void AssertEveryPositionMoves(PrefixLmSample[] altered, int which, string what)
        {
            using var batch = PrefixLm.Build(altered, splits, Config);
            var logits = model.Forward(batch);
            for (int t = 0; t < batch.SuffixLengths[which]; t++)
            {
                float difference = (logits[which, t] - baseline[which, t]).abs().max().item<float>();
                Assert.True(difference > 0, $"{what}: position {t} did not change");
            }
            Assert.Equal(TestModels.Values(baseline[which == 0 ? 1 : 0]), TestModels.Values(logits[which == 0 ? 1 : 0]));
        }

        for (int token = 0; token < splits[0]; token++)
        {
            var text = (int[])samples[0].Text.Clone();
            text[token] = text[token] == SpecialTokens.Count ? SpecialTokens.Count + 1 : SpecialTokens.Count;
            AssertEveryPositionMoves(samples.Select((s, i) => i == 0 ? s with { Text = text } : s).ToArray(), 0, $"prefix text token {token}");
        }
        for (int patch = 0; patch < Config.ImageTokens; patch++)
        {
            // One pixel inside each patch of the image.
            var pixels = (float[])samples[2].Pixels!.Clone();
            int side = Config.ImageSize / Config.PatchSize, row = patch / side, column = patch % side;
            pixels[row * Config.PatchSize * Config.ImageSize + column * Config.PatchSize] += 1.5f;
            AssertEveryPositionMoves(samples.Select((s, i) => i == 2 ? s with { Pixels = pixels } : s).ToArray(), 2, $"image patch {patch}");
        }
    }

    [Fact]
    public void PaddingNeverChangesASamplesOutputs()
    {
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 4);
        var random = new DeterministicRandom(4);
        var shortSample = TestModels.ImageTextSample(Config, random, 4);
        var longSample = TestModels.ImageTextSample(Config, random, Config.MaxTextLength);
        using var alone = PrefixLm.Build([shortSample], [1], Config);
        using var padded = PrefixLm.Build([shortSample, longSample], [1, 9], Config);
        var aloneLogits = model.Forward(alone)[0];
        var paddedLogits = model.Forward(padded)[0, ..3];
        Assert.True(allclose(aloneLogits, paddedLogits, rtol: 1e-5, atol: 1e-5), "padding leaked into a shorter sample");

        var textOnly = TestModels.TextOnlySample(Config, random, 5);
        using var textAlone = PrefixLm.Build([textOnly], [2], Config);
        using var textPadded = PrefixLm.Build([textOnly, TestModels.TextOnlySample(Config, random, 12)], [2, 8], Config);
        Assert.True(allclose(model.Forward(textAlone)[0], model.Forward(textPadded)[0, ..3], rtol: 1e-5, atol: 1e-5));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void APaddedBatchGivesTheLossAndGradientsOfItsSamplesTakenAlone(bool withImages)
    {
        // Samples of very different prefix and suffix lengths: the batch's rectangles are mostly
        // padding, which must add nothing to the loss or to any gradient.
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 8);
        var random = new DeterministicRandom(8);
        int[] lengths = [3, Config.MaxTextLength, 7, 12];
        var samples = lengths.Select(length => withImages ? TestModels.ImageTextSample(Config, random, length) : TestModels.TextOnlySample(Config, random, length)).ToArray();
        var splits = samples.Select(s => PrefixLm.DrawTextPrefixLength(s, random)).ToArray();

        using var batch = PrefixLm.Build(samples, splits, Config);
        var (batchLoss, _) = model.SuffixLoss(batch);
        batchLoss.backward();
        var batchGradients = model.parameters().Select(GradientOrZeros).ToArray();

        model.zero_grad();
        double aloneLoss = 0;
        for (int i = 0; i < samples.Length; i++)
        {
            using var alone = PrefixLm.Build([samples[i]], [splits[i]], Config);
            var (loss, _) = model.SuffixLoss(alone);
            loss.backward(); // gradients accumulate over the samples
            aloneLoss += loss.item<float>();
        }
        Assert.Equal(aloneLoss, batchLoss.item<float>(), aloneLoss * 1e-5);
        foreach (var ((name, parameter), batchGradient) in model.named_parameters().Zip(batchGradients))
        {
            var aloneGradient = GradientOrZeros(parameter);
            Assert.True(allclose(batchGradient, aloneGradient, rtol: 1e-4, atol: 1e-6), $"{name}: the batch's gradient differs from its samples' (max difference {(batchGradient - aloneGradient).abs().max().item<float>()})");
        }
        Assert.Contains(batchGradients, g => g.abs().sum().item<float>() > 0);

        // Text-only samples never reach the stem: its parameters have no gradient at all.
        static Tensor GradientOrZeros(Tensor parameter) => parameter.grad is null ? zeros_like(parameter) : parameter.grad.clone();
    }

    [Fact]
    public void LossIsCrossEntropyOverSuffixTokensOnly()
    {
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 5);
        var random = new DeterministicRandom(5);
        var samples = ImageTextSamples(random, 3);
        using var batch = PrefixLm.Build(samples, Config, random);
        var logits = model.Forward(batch);
        var (summed, tokens) = model.SuffixLoss(batch);

        double expected = 0;
        long counted = 0;
        for (int i = 0; i < samples.Length; i++)
        {
            for (int t = 0; t < batch.SuffixLengths[i]; t++)
            {
                float[] row = TestModels.Values(logits[i, t]);
                double max = row.Max();
                double logSumExp = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
                int target = samples[i].Text[batch.PrefixTextLengths[i] + t];
                expected += logSumExp - row[target];
                counted++;
            }
        }
        Assert.Equal(counted, tokens);
        Assert.Equal(samples.Sum(s => s.Text.Length) - batch.PrefixTextLengths.Sum(), tokens);
        Assert.Equal(expected, summed.item<float>(), expected * 1e-5);
    }

    [Fact]
    public void GradientsReachEveryPartOfTheModel()
    {
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 6);
        model.train();
        var random = new DeterministicRandom(6);
        using var images = PrefixLm.Build(ImageTextSamples(random, 2), [2, 1], Config);
        var (loss, tokens) = model.SuffixLoss(images);
        (loss / tokens).backward();
        foreach (var (name, parameter) in model.named_parameters())
            Assert.True(parameter.grad is not null && parameter.grad.abs().sum().item<float>() > 0, $"{name} received no gradient");
    }

    [Fact]
    public void FlopEstimateCountsEveryWeightMatmulOfTheRealModel()
    {
        using var scope = NewDisposeScope();
        var model = TestModels.NewModel(Config, 7);
        // With one prefix and one suffix token, every transformer weight is used once per token and
        // each attention score/sum costs 2 * 2 * width per layer and attention.
        long linearWeights = model.modules().OfType<Linear>().Sum(l => l.weight!.numel());
        double expected = 2.0 * linearWeights + 2.0 * Config.Width * Config.VocabSize
            + 4.0 * Config.Width * (Config.EncoderLayers + 2 * Config.DecoderLayers);
        Assert.Equal(expected, SimVlmModel.ForwardFlopsPerSample(Config, withImage: false, prefixTextTokens: 1, suffixTokens: 1), 6);

        double withImage = SimVlmModel.ForwardFlopsPerSample(Config, withImage: true, prefixTextTokens: 1, suffixTokens: 1);
        long convWeights = model.modules().OfType<Conv2d>().Sum(c => c.weight!.numel());
        Assert.True(withImage > expected + 2.0 * convWeights * Config.ImageTokens, "the conv stem runs at a resolution no coarser than the patch grid");
    }

    [Fact]
    public void FlopPartsSplitTheEstimateByWhereItIsSpent()
    {
        var textOnly = SimVlmModel.ForwardFlopsByPart(Config, withImage: false, prefixTextTokens: 3, suffixTokens: 5);
        Assert.Equal(0, textOnly.Stem);
        Assert.Equal(5 * 2.0 * Config.Width * Config.VocabSize, textOnly.OutputLayer);
        Assert.Equal((Config.EncoderLayers * 3 + Config.DecoderLayers * 5) * 4.0 * Config.Width * Config.MlpWidth, textOnly.Mlp);
        Assert.Equal(SimVlmModel.ForwardFlopsPerSample(Config, false, 3, 5), textOnly.Total, 6);

        // Projections grow linearly with the prefix, attention faster (every token meets every key).
        var longer = SimVlmModel.ForwardFlopsByPart(Config, withImage: false, prefixTextTokens: 6, suffixTokens: 5);
        var longest = SimVlmModel.ForwardFlopsByPart(Config, withImage: false, prefixTextTokens: 9, suffixTokens: 5);
        Assert.Equal(longest.Projections - longer.Projections, longer.Projections - textOnly.Projections, 6);
        Assert.True(longest.Attention - longer.Attention > longer.Attention - textOnly.Attention);

        var withImage = SimVlmModel.ForwardFlopsByPart(Config, withImage: true, prefixTextTokens: 3, suffixTokens: 5);
        Assert.True(withImage.Stem > 0);
        Assert.Equal(textOnly.OutputLayer, withImage.OutputLayer);
    }
}
