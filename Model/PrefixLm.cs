using static TorchSharp.torch;

namespace Platform.Model;

/// <summary>
/// One training sample: a tokenised text ending in <see cref="SpecialTokens.Eos"/>, with the
/// image it describes (normalised pixels, channels first: 3 x size x size) or none for text-only
/// documents. <paramref name="TextPrefixLength"/> fixes the split for task fine-tuning (VQA: the
/// question is the prefix, the answer the suffix); null draws it at random as pretraining does.
/// </summary>
public sealed record PrefixLmSample(float[]? Pixels, int[] Text, int? TextPrefixLength = null);

/// <summary>
/// A PrefixLM batch of one kind (all image-text or all text-only), padded to rectangles. Each
/// sample has its own split: the encoder reads the prefix (all image tokens, then the text's first
/// tokens), the decoder predicts the rest of the text (the suffix) and only the suffix is scored.
/// </summary>
public sealed class PrefixLmBatch : IDisposable
{
    /// <summary>Target id at padding after a shorter suffix: never a token (and cross-entropy's default ignore index).</summary>
    public const long IgnoredTarget = -100;

    public required int Size { get; init; }

    /// <summary>(B, 3, S, S) pixels, or null for a text-only batch.</summary>
    public required Tensor? Images { get; init; }

    /// <summary>(B, Lp) prefix text ids, padded; Lp may be 0 when every image-text sample's text prefix is empty.</summary>
    public required Tensor PrefixTokens { get; init; }

    public required Tensor PrefixValid { get; init; }

    /// <summary>(B, Ls) BOS followed by the suffix without its last token, padded.</summary>
    public required Tensor DecoderInput { get; init; }

    /// <summary>(B, Ls) text position of each predicted token: the prefix text length plus the suffix index.</summary>
    public required Tensor DecoderPositions { get; init; }

    public required Tensor DecoderValid { get; init; }

    /// <summary>(B, Ls) the suffix tokens to predict; <see cref="IgnoredTarget"/> at padding.</summary>
    public required Tensor Targets { get; init; }

    /// <summary>Tp per sample: image tokens plus prefix text tokens (the paper's prefix length).</summary>
    public required int[] PrefixLengths { get; init; }

    public required int[] PrefixTextLengths { get; init; }

    public required int[] SuffixLengths { get; init; }

    /// <summary>Image tokens per sample (Ti): the config's patch count, or 0 for text-only batches.</summary>
    public required int ImageTokens { get; init; }

    /// <summary>Real target tokens in the batch: the loss's denominator.</summary>
    public long TargetTokens => SuffixLengths.Sum();

    public void Dispose()
    {
        Images?.Dispose();
        PrefixTokens.Dispose();
        PrefixValid.Dispose();
        DecoderInput.Dispose();
        DecoderPositions.Dispose();
        DecoderValid.Dispose();
        Targets.Dispose();
    }
}

/// <summary>Builds PrefixLM batches: the random split per sample, padding and masks.</summary>
public static class PrefixLm
{
    /// <summary>
    /// Draws each sample's split and builds the batch. Image-text: the prefix always holds the whole
    /// image (Tp >= Ti) plus a random leading span of the text, possibly empty. Text-only: a random
    /// split point with at least one token on each side. Either way at least one suffix token remains.
    /// </summary>
    public static PrefixLmBatch Build(IReadOnlyList<PrefixLmSample> samples, SimVlmConfig config, DeterministicRandom random, Device? device = null, ScalarType pixelType = ScalarType.Float32)
    {
        var splits = samples.Select(sample => DrawTextPrefixLength(sample, random)).ToArray();
        return Build(samples, splits, config, device, pixelType);
    }

    /// <summary>How many leading text tokens go to the prefix, drawn uniformly over the allowed range.</summary>
    public static int DrawTextPrefixLength(PrefixLmSample sample, DeterministicRandom random)
    {
        if (sample.TextPrefixLength is int fixedLength) return fixedLength; // Build checks its range
        if (sample.Pixels is not null)
        {
            if (sample.Text.Length < 1) throw new ArgumentException("An image-text sample needs at least one text token (end-of-text) to predict.", nameof(sample));
            return random.Next(0, sample.Text.Length);  // 0 .. L-1: empty text prefix allowed, a suffix token always left
        }
        if (sample.Text.Length < 2) throw new ArgumentException("A text-only sample needs at least two tokens: one for the prefix, one to predict.", nameof(sample));
        return random.Next(1, sample.Text.Length);      // 1 .. L-1: a text-only prefix needs a token for the encoder
    }

    /// <summary>Builds the batch for given text prefix lengths (the split drawn elsewhere, or fixed by a test).</summary>
    /// <param name="pixelType">The model's floating-point type (bfloat16 where the model runs in it).</param>
    public static PrefixLmBatch Build(IReadOnlyList<PrefixLmSample> samples, IReadOnlyList<int> textPrefixLengths, SimVlmConfig config, Device? device = null, ScalarType pixelType = ScalarType.Float32)
    {
        if (samples.Count == 0) throw new ArgumentException("A batch needs at least one sample.", nameof(samples));
        if (textPrefixLengths.Count != samples.Count) throw new ArgumentException("One text prefix length per sample is required.", nameof(textPrefixLengths));
        bool withImages = samples[0].Pixels is not null;
        int pixelCount = 3 * config.ImageSize * config.ImageSize;
        for (int i = 0; i < samples.Count; i++)
        {
            var sample = samples[i];
            if ((sample.Pixels is not null) != withImages)
                throw new ArgumentException("A batch holds either image-text samples or text-only samples, not both; build one batch of each.", nameof(samples));
            if (sample.Pixels is not null && sample.Pixels.Length != pixelCount)
                throw new ArgumentException($"Sample {i} has {sample.Pixels.Length} pixel values; {pixelCount} (3x{config.ImageSize}x{config.ImageSize}) expected.", nameof(samples));
            if (sample.Text.Length > config.MaxTextLength)
                throw new ArgumentException($"Sample {i} has {sample.Text.Length} text tokens; at most {config.MaxTextLength} fit.", nameof(samples));
            int minimum = withImages ? 0 : 1;
            if (textPrefixLengths[i] < minimum || textPrefixLengths[i] > sample.Text.Length - 1)
                throw new ArgumentException($"Sample {i}: text prefix length {textPrefixLengths[i]} must lie in [{minimum}, {sample.Text.Length - 1}] so that the suffix is not empty.", nameof(textPrefixLengths));
        }

        int size = samples.Count;
        int[] prefixText = textPrefixLengths.ToArray();
        int[] suffix = samples.Select((s, i) => s.Text.Length - prefixText[i]).ToArray();
        int prefixWidth = prefixText.Max(), suffixWidth = suffix.Max();
        var prefixTokens = new long[size * prefixWidth];
        var prefixValid = new bool[size * prefixWidth];
        var decoderInput = new long[size * suffixWidth];
        var decoderPositions = new long[size * suffixWidth];
        var decoderValid = new bool[size * suffixWidth];
        var targets = new long[size * suffixWidth];
        Array.Fill(targets, PrefixLmBatch.IgnoredTarget);
        for (int i = 0; i < size; i++)
        {
            int[] text = samples[i].Text;
            for (int t = 0; t < prefixText[i]; t++)
            {
                prefixTokens[i * prefixWidth + t] = text[t];
                prefixValid[i * prefixWidth + t] = true;
            }
            for (int t = 0; t < suffix[i]; t++)
            {
                int at = i * suffixWidth + t;
                decoderInput[at] = t == 0 ? SpecialTokens.Bos : text[prefixText[i] + t - 1];
                decoderPositions[at] = prefixText[i] + t;
                decoderValid[at] = true;
                targets[at] = text[prefixText[i] + t];
            }
        }

        Tensor? images = null;
        if (withImages)
        {
            var pixels = new float[size * pixelCount];
            for (int i = 0; i < size; i++) samples[i].Pixels!.CopyTo(pixels, i * pixelCount);
            images = tensor(pixels, [size, 3, config.ImageSize, config.ImageSize], device: device);
            if (pixelType != ScalarType.Float32)
            {
                using var fp32 = images;
                images = fp32.to(pixelType);
            }
        }
        int imageTokens = withImages ? config.ImageTokens : 0;
        return new PrefixLmBatch
        {
            Size = size,
            Images = images,
            PrefixTokens = tensor(prefixTokens, [size, prefixWidth], device: device),
            PrefixValid = tensor(prefixValid, [size, prefixWidth], device: device),
            DecoderInput = tensor(decoderInput, [size, suffixWidth], device: device),
            DecoderPositions = tensor(decoderPositions, [size, suffixWidth], device: device),
            DecoderValid = tensor(decoderValid, [size, suffixWidth], device: device),
            Targets = tensor(targets, [size, suffixWidth], device: device),
            PrefixLengths = prefixText.Select(p => imageTokens + p).ToArray(),
            PrefixTextLengths = prefixText,
            SuffixLengths = suffix,
            ImageTokens = imageTokens,
        };
    }

    /// <summary>
    /// Splits a step's samples between image-text pairs and text-only documents at the ratio
    /// imageText:textOnly (the paper's 4,096 + 512 per step is 8:1), rounding to the nearest sample.
    /// </summary>
    public static (int ImageText, int TextOnly) SplitStep(int samplesPerStep, int imageTextRatio = 8, int textOnlyRatio = 1)
    {
        if (samplesPerStep < 1) throw new ArgumentOutOfRangeException(nameof(samplesPerStep), "A step needs at least one sample.");
        if (imageTextRatio < 0 || textOnlyRatio < 0 || imageTextRatio + textOnlyRatio == 0)
            throw new ArgumentException("Mixing ratios must be non-negative and not both zero.");
        int textOnly = (int)Math.Round((double)samplesPerStep * textOnlyRatio / (imageTextRatio + textOnlyRatio), MidpointRounding.AwayFromZero);
        return (samplesPerStep - textOnly, textOnly);
    }
}
