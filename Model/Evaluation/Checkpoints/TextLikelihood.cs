using static TorchSharp.torch;

namespace Platform.Model.Evaluation.Checkpoints;

/// <summary>How likely a model finds texts given images: the score behind likelihood retrieval.</summary>
public static class TextLikelihood
{
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
