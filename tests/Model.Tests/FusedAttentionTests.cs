using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>Attention without masks where none is needed computes what the explicit masks compute.</summary>
public class FusedAttentionTests
{
    /// <summary>The loss and every gradient of one batch, with the fused choice on or off.</summary>
    private static (double Loss, Dictionary<string, float[]> Gradients, float[] Logits) LossAndGradients(SimVlmModel model, PrefixLmBatch batch, bool fused)
    {
        model.FusedAttention = fused;
        model.zero_grad();
        using var scope = NewDisposeScope();
        var (summed, _) = model.SuffixLoss(batch);
        summed.backward();
        float[] logits;
        using (no_grad()) logits = TestModels.Values(model.Forward(batch));
        return (summed.item<float>(), model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => TestModels.Values(p.parameter.grad!)), logits);
    }

    [Theory]
    [InlineData(true, new[] { 3, 9, 14, 6 }, new[] { 1, 4, 0, 2 })]   // image-text, padded prefixes and suffixes
    [InlineData(true, new[] { 8, 12, 5 }, new[] { 0, 0, 0 })]         // image-text, no prefix text: the encoder has no padding
    [InlineData(false, new[] { 9, 4, 16, 7 }, new[] { 3, 1, 10, 2 })] // text-only
    [InlineData(false, new[] { 9, 9 }, new[] { 4, 4 })]               // text-only, nothing padded anywhere
    public void LossGradientsAndLogitsMatchTheExplicitMasks(bool images, int[] textLengths, int[] prefixLengths)
    {
        var config = TestModels.Micro;
        var random = new DeterministicRandom(11);
        var samples = textLengths.Select(length => images ? TestModels.ImageTextSample(config, random, length) : TestModels.TextOnlySample(config, random, length)).ToArray();
        using var batch = PrefixLm.Build(samples, prefixLengths, config);
        using var model = TestModels.NewModel(config, 3);
        model.train();

        var masked = LossAndGradients(model, batch, fused: false);
        var fused = LossAndGradients(model, batch, fused: true);

        Assert.Equal(masked.Loss, fused.Loss, 1e-5 * Math.Max(1, Math.Abs(masked.Loss)));
        Assert.True(masked.Logits.Zip(fused.Logits, (a, b) => Math.Abs(a - b)).Max() <= 1e-5, "logits differ");
        foreach (var (name, gradient) in masked.Gradients)
        {
            double largest = gradient.Zip(fused.Gradients[name], (a, b) => Math.Abs((double)a - b)).Max();
            Assert.True(largest <= 1e-5, $"{name}'s gradient differs by {largest:E2}");
        }
    }
}
