using Platform.Model.Evaluation.Retrieval;
using static TorchSharp.torch;

namespace Platform.Model.Evaluation.Checkpoints;

/// <summary>How likely a model finds texts given images: the score behind likelihood retrieval.</summary>
public static class TextLikelihood
{
    /// <summary>About how many (image, text) rows one decoder pass of <see cref="PairScores"/> scores.</summary>
    public const int RowsPerPass = 256;

    private const int ImagesPerEncoderPass = 64;

    /// <summary>How many images each decoder pass of <see cref="PairScores"/> pairs with its texts.</summary>
    public static int ImagesPerPass(int textsPerPass) => Math.Max(1, RowsPerPass / textsPerPass);

    /// <summary>
    /// scores[image, text]: the text's log-likelihood given the image alone as the prefix, summed or averaged over its tokens
    /// (end-of-text included) as <see cref="GenerativePairScore.Score"/> does with what <see cref="TokenLogLikelihoods"/> gives.
    /// Each image is encoded once; the texts are taken longest first, so that the texts of a pass are of nearly one length and
    /// attention pads little; each decoder pass scores <paramref name="textsPerPass"/> texts against <see cref="ImagesPerPass"/>
    /// images (the encoder states indexed, not recomputed), and only the texts' real tokens go through the output layer.
    /// </summary>
    public static double[,] PairScores(SimVlmModel model, IReadOnlyList<float[]> pixels, IReadOnlyList<int[]> texts, int textsPerPass, PairScoring scoring,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (textsPerPass < 1) throw new ArgumentOutOfRangeException(nameof(textsPerPass), "A pass scores at least one text.");
        using var noGrad = no_grad();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            var parameter = model.parameters().First();
            var device = parameter.device;
            int side = model.Config.ImageSize;
            var encodedParts = new List<Tensor>();
            var validParts = new List<Tensor>();
            for (int start = 0; start < pixels.Count; start += ImagesPerEncoderPass)
            {
                int size = Math.Min(ImagesPerEncoderPass, pixels.Count - start);
                var images = tensor(pixels.Skip(start).Take(size).SelectMany(p => p).ToArray(), [size, 3, side, side], device: device).to(parameter.dtype);
                var (encodedPart, validPart) = model.Encode(images, zeros(size, 0, dtype: ScalarType.Int64, device: device), zeros(size, 0, dtype: ScalarType.Bool, device: device));
                encodedParts.Add(encodedPart);
                validParts.Add(validPart);
            }
            var encoded = cat(encodedParts, 0);
            var encodedValid = cat(validParts, 0);

            var scores = new double[pixels.Count, texts.Count];
            int[] longestFirst = Enumerable.Range(0, texts.Count).OrderByDescending(t => texts[t].Length).ToArray();
            int imagesPerPass = ImagesPerPass(textsPerPass);
            for (int textStart = 0; textStart < longestFirst.Length; textStart += textsPerPass)
            {
                using var textScope = NewDisposeScope();
                int[] batch = longestFirst[textStart..Math.Min(longestFirst.Length, textStart + textsPerPass)];
                int length = texts[batch[0]].Length;
                var input = new long[batch.Length * length];
                var positions = new long[batch.Length * length];
                var valid = new bool[batch.Length * length];
                var targets = new long[batch.Length * length];
                for (int row = 0; row < batch.Length; row++)
                    for (int i = 0; i < texts[batch[row]].Length; i++)
                    {
                        input[row * length + i] = i == 0 ? SpecialTokens.Bos : texts[batch[row]][i - 1];
                        positions[row * length + i] = i;
                        valid[row * length + i] = true;
                        targets[row * length + i] = texts[batch[row]][i];
                    }
                var inputTensor = tensor(input, [batch.Length, length], device: device);
                var positionTensor = tensor(positions, [batch.Length, length], device: device);
                var validTensor = tensor(valid, [batch.Length, length], device: device);
                var targetTensor = tensor(targets, [batch.Length, length], device: device);
                for (int imageStart = 0; imageStart < pixels.Count; imageStart += imagesPerPass)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var passScope = NewDisposeScope();
                    int imageCount = Math.Min(imagesPerPass, pixels.Count - imageStart);
                    // Row r pairs image imageStart + r / texts of the batch with the batch's text r % its size.
                    var imageOfRow = tensor(Enumerable.Range(0, imageCount * batch.Length).Select(r => (long)(imageStart + r / batch.Length)).ToArray(), device: device);
                    var logProbabilities = model.TargetLogProbabilities(encoded.index_select(0, imageOfRow), encodedValid.index_select(0, imageOfRow),
                        inputTensor.repeat(imageCount, 1), positionTensor.repeat(imageCount, 1), validTensor.repeat(imageCount, 1), targetTensor.repeat(imageCount, 1));
                    double[] sums = logProbabilities.to(ScalarType.Float64).sum(1).cpu().data<double>().ToArray();
                    for (int row = 0; row < sums.Length; row++)
                    {
                        int image = imageStart + row / batch.Length, text = batch[row % batch.Length];
                        scores[image, text] = scoring switch
                        {
                            PairScoring.SumLogLikelihood => sums[row],
                            PairScoring.MeanLogLikelihood => sums[row] / texts[text].Length,
                            _ => throw new ArgumentOutOfRangeException(nameof(scoring)),
                        };
                    }
                }
                log?.Invoke($"scored {Math.Min(longestFirst.Length, textStart + textsPerPass)}/{texts.Count} texts against {pixels.Count} images");
            }
            return scores;
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>
    /// [image][text] the log-probability of each of the text's tokens (end-of-text included) given
    /// the image alone as the prefix: the PrefixLM objective with an empty text prefix.
    /// </summary>
    public static double[][][] TokenLogLikelihoods(SimVlmModel model, IReadOnlyList<float[]> pixels, IReadOnlyList<int[]> texts, int batchSize,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        using var noGrad = no_grad();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var parameter = model.parameters().First();
            var device = parameter.device;
            int side = model.Config.ImageSize, length = texts.Max(t => t.Length), count = texts.Count;
            var input = new long[count * length];
            var positions = new long[count * length];
            var valid = new bool[count * length];
            for (int t = 0; t < count; t++)
                for (int i = 0; i < texts[t].Length; i++)
                {
                    input[t * length + i] = i == 0 ? SpecialTokens.Bos : texts[t][i - 1];
                    positions[t * length + i] = i;
                    valid[t * length + i] = true;
                }
            var result = new double[pixels.Count][][];
            for (int image = 0; image < pixels.Count; image++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var imageTensor = tensor(pixels[image], [1, 3, side, side], device: device).to(parameter.dtype);
                var (encoded, encodedValid) = model.Encode(imageTensor, zeros(1, 0, dtype: ScalarType.Int64, device: device), zeros(1, 0, dtype: ScalarType.Bool, device: device));
                result[image] = new double[count][];
                for (int start = 0; start < count; start += batchSize)
                {
                    using var batchScope = NewDisposeScope();
                    int size = Math.Min(batchSize, count - start);
                    var rows = new Range(start * length, (start + size) * length);
                    var logits = model.Decode(
                        encoded.expand(size, -1, -1), encodedValid.expand(size, -1),
                        tensor(input[rows], [size, length], device: device), tensor(positions[rows], [size, length], device: device),
                        tensor(valid[rows], [size, length], device: device));
                    var logProbabilities = nn.functional.log_softmax(logits.to(ScalarType.Float32), 2);
                    var targets = tensor(Enumerable.Range(start, size).SelectMany(t => Enumerable.Range(0, length).Select(i => i < texts[t].Length ? (long)texts[t][i] : 0L)).ToArray(), [size, length, 1], device: device);
                    float[] picked = logProbabilities.gather(2, targets).squeeze(2).cpu().data<float>().ToArray();
                    for (int t = 0; t < size; t++)
                        result[image][start + t] = Enumerable.Range(0, texts[start + t].Length).Select(i => (double)picked[t * length + i]).ToArray();
                }
                log?.Invoke($"scored image {image + 1}/{pixels.Count} against {count} texts");
            }
            return result;
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
