using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>Very small model shapes and samples so that tests run in moments on two CPU cores.</summary>
internal static class TestModels
{
    public static readonly SimVlmConfig Micro = new()
    {
        ImageSize = 16,
        PatchSize = 8,
        StemWidth = SimVlmConfig.MinimumStemWidth,
        StageDepths = [1, 1, 1],
        Width = 32,
        EncoderLayers = 2,
        DecoderLayers = 2,
        Heads = 2,
        MlpWidth = 64,
        VocabSize = 40,
        MaxTextLength = 16,
        Dropout = 0.0,
    };

    public static SimVlmModel NewModel(SimVlmConfig config, long seed)
    {
        manual_seed(seed);
        var model = new SimVlmModel(config);
        model.eval();
        return model;
    }

    public static PrefixLmSample ImageTextSample(SimVlmConfig config, DeterministicRandom random, int textLength) =>
        new(RandomPixels(config, random), RandomText(config, random, textLength));

    public static PrefixLmSample TextOnlySample(SimVlmConfig config, DeterministicRandom random, int textLength) =>
        new(null, RandomText(config, random, textLength));

    public static float[] RandomPixels(SimVlmConfig config, DeterministicRandom random) =>
        Enumerable.Range(0, 3 * config.ImageSize * config.ImageSize).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    /// <summary>Ordinary tokens followed by end-of-text.</summary>
    public static int[] RandomText(SimVlmConfig config, DeterministicRandom random, int length) =>
        Enumerable.Range(0, length - 1).Select(_ => random.Next(SpecialTokens.Count, config.VocabSize)).Append(SpecialTokens.Eos).ToArray();

    public static float[] Values(Tensor t) => t.contiguous().to(ScalarType.Float32).data<float>().ToArray();
}
