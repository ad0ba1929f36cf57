using static TorchSharp.torch;

namespace Platform.Model;

/// <summary>A generated text: its model ids (end-of-text excluded) and summed log-probability.</summary>
public sealed record DecodedText(int[] Tokens, double LogProbability);

/// <summary>
/// Generation with a trained model: the image (and an optional text prompt, e.g. "A picture of")
/// forms the encoder's prefix, exactly as in PrefixLM training, and the decoder continues the text
/// from the prompt's position until end-of-text or the length limit.
/// </summary>
public static class CaptionDecoder
{
    /// <summary>Greedy decoding of a batch: the most likely next token at every position.</summary>
    /// <param name="images">(B, 3, S, S) pixels, or null for text-only prompts.</param>
    /// <param name="prompts">Prompt ids per sample (no end-of-text); empty arrays for none.</param>
    public static DecodedText[] Greedy(SimVlmModel model, Tensor? images, IReadOnlyList<int[]> prompts, int maxTokens)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var device = model.parameters().First().device;
            int batch = prompts.Count;
            var (encoded, valid) = EncodePrompts(model, images, prompts, device);
            int limit = TokenLimit(model, prompts, maxTokens);
            var tokens = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
            var scores = new double[batch];
            var finished = new bool[batch];
            var input = full(batch, 1, SpecialTokens.Bos, dtype: ScalarType.Int64, device: device);
            for (int t = 0; t < limit && !finished.All(f => f); t++)
            {
                using var stepScope = NewDisposeScope();
                var logProbabilities = NextTokenLogProbabilities(model, encoded, valid, input, prompts, device);
                var best = logProbabilities.max(1);
                long[] next = best.indexes.cpu().data<long>().ToArray();
                float[] nextScores = best.values.to(ScalarType.Float32).cpu().data<float>().ToArray();
                for (int b = 0; b < batch; b++)
                {
                    if (finished[b]) continue;
                    scores[b] += nextScores[b];
                    if (next[b] == SpecialTokens.Eos) finished[b] = true;
                    else tokens[b].Add((int)next[b]);
                }
                input = cat([input, tensor(next, device: device).view(batch, 1)], 1).MoveToOuterDisposeScope();
            }
            return tokens.Select((t, b) => new DecodedText(t.ToArray(), scores[b])).ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>
    /// Beam search for one sample: keeps the <paramref name="beamSize"/> best partial texts by summed
    /// log-probability; finished texts are ranked by log-probability / length^<paramref name="lengthPenalty"/>
    /// (0 compares plain sums, 1 compares per-token averages).
    /// </summary>
    /// <param name="image">(3, S, S) pixels, or null for a text-only prompt.</param>
    public static DecodedText Beam(SimVlmModel model, Tensor? image, int[] prompt, int beamSize, int maxTokens, double lengthPenalty = 0.0)
    {
        if (beamSize < 1) throw new ArgumentOutOfRangeException(nameof(beamSize), "At least one beam is needed.");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var device = model.parameters().First().device;
            int limit = TokenLimit(model, [prompt], maxTokens);
            var (encodedOne, validOne) = EncodePrompts(model, image?.unsqueeze(0), [prompt], device);
            var beams = new List<(List<int> Tokens, double Score)> { ([], 0.0) };
            var done = new List<(List<int> Tokens, double Score)>();
            double Ranked((List<int> Tokens, double Score) h) => h.Score / Math.Pow(Math.Max(1, h.Tokens.Count + 1), lengthPenalty);

            for (int t = 0; t < limit && beams.Count > 0; t++)
            {
                using var stepScope = NewDisposeScope();
                int live = beams.Count;
                var input = tensor(beams.SelectMany(b => b.Tokens.Prepend(SpecialTokens.Bos)).Select(v => (long)v).ToArray(), device: device).view(live, t + 1);
                var encoded = encodedOne.expand(live, -1, -1);
                var valid = validOne.expand(live, -1);
                var logProbabilities = NextTokenLogProbabilities(model, encoded, valid, input, Enumerable.Repeat(prompt, live).ToArray(), device);
                var total = logProbabilities.to(ScalarType.Float32) + tensor(beams.Select(b => (float)b.Score).ToArray(), device: device).view(live, 1);
                int vocabulary = (int)total.shape[1];
                // 2K candidates leave K live ones even if K of them end the text.
                var top = total.flatten().topk(Math.Min(2 * beamSize, live * vocabulary));
                long[] indexes = top.indexes.cpu().data<long>().ToArray();
                float[] values = top.values.cpu().data<float>().ToArray();
                var next = new List<(List<int> Tokens, double Score)>();
                for (int i = 0; i < indexes.Length && next.Count < beamSize; i++)
                {
                    var parent = beams[(int)(indexes[i] / vocabulary)];
                    int token = (int)(indexes[i] % vocabulary);
                    if (token == SpecialTokens.Eos) done.Add((parent.Tokens, values[i]));
                    else next.Add(([.. parent.Tokens, token], values[i]));
                }
                beams = next;
                if (done.Count >= beamSize && done.Max(Ranked) >= beams.Select(Ranked).DefaultIfEmpty(double.NegativeInfinity).Max()) break;
            }
            var best = done.Concat(beams).MaxBy(Ranked);
            return new DecodedText(best.Tokens.ToArray(), best.Score);
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    private static int TokenLimit(SimVlmModel model, IReadOnlyList<int[]> prompts, int maxTokens)
    {
        if (maxTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), "At least one token must be generated.");
        int room = model.Config.MaxTextLength - prompts.Max(p => p.Length);
        if (room < 1) throw new ArgumentException($"Prompts of {prompts.Max(p => p.Length)} tokens leave no room in {model.Config.MaxTextLength} text positions.");
        return Math.Min(maxTokens, room);
    }

    private static (Tensor Encoded, Tensor Valid) EncodePrompts(SimVlmModel model, Tensor? images, IReadOnlyList<int[]> prompts, Device device)
    {
        if (images is null && prompts.Any(p => p.Length == 0)) throw new ArgumentException("Without an image, every sample needs a prompt for the encoder to read.");
        int batch = prompts.Count, width = prompts.Max(p => p.Length);
        var ids = new long[batch * width];
        var valid = new bool[batch * width];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < prompts[b].Length; t++)
            {
                ids[b * width + t] = prompts[b][t];
                valid[b * width + t] = true;
            }
        var floatType = model.parameters().First().dtype;
        return model.Encode(images?.to(device).to(floatType), tensor(ids, [batch, width], device: device), tensor(valid, [batch, width], device: device));
    }

    /// <summary>Log-probabilities of the token after <paramref name="input"/>, with tokens that are never generated masked out.</summary>
    private static Tensor NextTokenLogProbabilities(SimVlmModel model, Tensor encoded, Tensor valid, Tensor input, IReadOnlyList<int[]> prompts, Device device)
    {
        int batch = (int)input.shape[0], length = (int)input.shape[1];
        var positions = tensor(prompts.SelectMany(p => Enumerable.Range(p.Length, length).Select(v => (long)v)).ToArray(), device: device).view(batch, length);
        var logits = model.Decode(encoded, valid, input, positions, ones(batch, length, dtype: ScalarType.Bool, device: device))[.., -1].to(ScalarType.Float32);
        logits[.., SpecialTokens.Pad] = float.NegativeInfinity;
        logits[.., SpecialTokens.Bos] = float.NegativeInfinity;
        logits[.., SpecialTokens.Unknown] = float.NegativeInfinity;
        return nn.functional.log_softmax(logits, 1);
    }
}
