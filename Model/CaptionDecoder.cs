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
    /// <param name="useKeyValueCache">False reruns the decoder over the whole text for every token: the reference the cache is tested and benchmarked against.</param>
    public static DecodedText[] Greedy(SimVlmModel model, Tensor? images, IReadOnlyList<int[]> prompts, int maxTokens, bool useKeyValueCache = true)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var device = model.parameters().First().device;
            int batch = prompts.Count;
            int limit = TokenLimit(model, prompts, maxTokens);
            var (encoded, valid) = EncodePrompts(model, images, prompts, device);
            using var steps = DecoderSteps.Start(model, encoded, valid, prompts, useKeyValueCache);
            var tokens = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
            var scores = new double[batch];
            // Row r of the decoder decodes sample rowSample[r]; finished samples leave the batch.
            int[] rowSample = Enumerable.Range(0, batch).ToArray();
            var newest = full(batch, KeptScalars.BeginningOfText, dtype: ScalarType.Int64, device: device);
            for (int t = 0; t < limit && rowSample.Length > 0; t++)
            {
                using var stepScope = NewDisposeScope();
                var best = steps.Next(newest).max(1);
                long[] next = best.indexes.cpu().data<long>().ToArray();
                float[] nextScores = best.values.to(ScalarType.Float32).cpu().data<float>().ToArray();
                var unfinished = new List<int>();
                for (int row = 0; row < rowSample.Length; row++)
                {
                    int b = rowSample[row];
                    scores[b] += nextScores[row];
                    if (next[row] == SpecialTokens.Eos) continue;
                    tokens[b].Add((int)next[row]);
                    unfinished.Add(row);
                }
                if (unfinished.Count < rowSample.Length && unfinished.Count > 0) steps.KeepRows([.. unfinished]);
                rowSample = unfinished.Select(row => rowSample[row]).ToArray();
                newest = tensor(unfinished.Select(row => next[row]).ToArray(), device: device).MoveToOuterDisposeScope();
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
        using var scope = NewDisposeScope();
        return BeamBatch(model, image?.unsqueeze(0), [prompt], beamSize, maxTokens, lengthPenalty)[0];
    }

    /// <summary>
    /// <see cref="Beam"/> for every sample of a batch at once: each sample keeps its own beams and
    /// finished texts, exactly as alone, while the decoder runs all samples' beams as one batch.
    /// </summary>
    /// <param name="images">(B, 3, S, S) pixels, or null for text-only prompts.</param>
    /// <param name="useKeyValueCache">False reruns the decoder over the whole text for every token: the reference the cache is tested and benchmarked against.</param>
    public static DecodedText[] BeamBatch(SimVlmModel model, Tensor? images, IReadOnlyList<int[]> prompts, int beamSize, int maxTokens, double lengthPenalty = 0.0, bool useKeyValueCache = true)
    {
        if (beamSize < 1) throw new ArgumentOutOfRangeException(nameof(beamSize), "At least one beam is needed.");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var device = model.parameters().First().device;
            int samples = prompts.Count;
            int limit = TokenLimit(model, prompts, maxTokens);
            var (encoded, valid) = EncodePrompts(model, images, prompts, device);
            using var steps = DecoderSteps.Start(model, encoded, valid, prompts, useKeyValueCache);
            var beams = Enumerable.Range(0, samples).Select(_ => new List<Hypothesis> { new([], 0.0) }).ToArray();
            var done = Enumerable.Range(0, samples).Select(_ => new List<Hypothesis>()).ToArray();
            double Ranked(Hypothesis h) => h.Score / Math.Pow(Math.Max(1, h.Tokens.Count + 1), lengthPenalty);

            // The decoder's rows: the live beams of each searching sample, sample by sample.
            var searching = Enumerable.Range(0, samples).ToList();
            var newest = full(samples, KeptScalars.BeginningOfText, dtype: ScalarType.Int64, device: device);
            for (int t = 0; t < limit && searching.Count > 0; t++)
            {
                using var stepScope = NewDisposeScope();
                var logProbabilities = steps.Next(newest);
                int vocabulary = (int)logProbabilities.shape[1];
                var beamScores = tensor(searching.SelectMany(s => beams[s]).Select(b => (float)b.Score).ToArray(), device: device);
                var total = logProbabilities.Plus(beamScores.view(-1, 1));
                // One top-k for all samples: each sample's beams padded to beamSize rows that can never win.
                var blockRows = new long[total.shape[0]];
                for (int block = 0, row = 0; block < searching.Count; block++)
                    for (int beam = 0; beam < beams[searching[block]].Count; beam++) blockRows[row++] = (long)block * beamSize + beam;
                var padded = full(searching.Count * beamSize, vocabulary, KeptScalars.NegativeInfinity, device: device)
                    .index_copy_(0, tensor(blockRows, device: device), total).view(searching.Count, beamSize * vocabulary);
                // 2K candidates leave K live ones even if K of them end the text.
                var top = padded.topk(Math.Min(2 * beamSize, beamSize * vocabulary));
                long[] indexes = top.indexes.cpu().data<long>().ToArray();
                float[] values = top.values.cpu().data<float>().ToArray();
                int candidates = (int)top.indexes.shape[1];

                var parentRows = new List<long>();
                var nextTokens = new List<long>();
                var stillSearching = new List<int>();
                int firstRow = 0;
                for (int block = 0; block < searching.Count; block++)
                {
                    int s = searching[block];
                    var live = beams[s];
                    var next = new List<Hypothesis>();
                    var nextParents = new List<long>();
                    for (int i = block * candidates; i < (block + 1) * candidates && next.Count < beamSize; i++)
                    {
                        int parent = (int)(indexes[i] / vocabulary), token = (int)(indexes[i] % vocabulary);
                        if (parent >= live.Count || float.IsNegativeInfinity(values[i])) continue; // padding, or a token never generated
                        if (token == SpecialTokens.Eos) done[s].Add(live[parent] with { Score = values[i] });
                        else
                        {
                            next.Add(new([.. live[parent].Tokens, token], values[i]));
                            nextParents.Add(firstRow + parent);
                        }
                    }
                    firstRow += live.Count;
                    beams[s] = next;
                    bool settled = next.Count == 0
                        || done[s].Count >= beamSize && done[s].Max(Ranked) >= next.Max(Ranked);
                    if (settled) continue;
                    stillSearching.Add(s);
                    parentRows.AddRange(nextParents);
                    nextTokens.AddRange(next.Select(h => (long)h.Tokens[^1]));
                }
                searching = stillSearching;
                if (searching.Count == 0) break;
                steps.KeepRows([.. parentRows]);
                newest = tensor(nextTokens.ToArray(), device: device).MoveToOuterDisposeScope();
            }
            return Enumerable.Range(0, samples).Select(s =>
            {
                var best = done[s].Concat(beams[s]).MaxBy(Ranked)!;
                return new DecodedText(best.Tokens.ToArray(), best.Score);
            }).ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>A partial or finished text of beam search and its summed log-probability.</summary>
    private sealed record Hypothesis(List<int> Tokens, double Score);

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
        var (ids, valid) = PaddedPrompts(prompts, device);
        var floatType = model.parameters().First().dtype;
        return model.Encode(images?.to(device).to(floatType), ids, valid);
    }

    /// <summary>(B, longest prompt) prompt ids padded with <see cref="SpecialTokens.Pad"/>, and which are real: the encoder's text prefix.</summary>
    internal static (Tensor Ids, Tensor Valid) PaddedPrompts(IReadOnlyList<int[]> prompts, Device device)
    {
        int batch = prompts.Count, width = prompts.Max(p => p.Length);
        var ids = new long[batch * width];
        var valid = new bool[batch * width];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < prompts[b].Length; t++)
            {
                ids[b * width + t] = prompts[b][t];
                valid[b * width + t] = true;
            }
        return (tensor(ids, [batch, width], device: device), tensor(valid, [batch, width], device: device));
    }

    /// <summary>Log-probabilities (R, vocabulary) from next-token logits, with tokens that are never generated masked out.</summary>
    private static Tensor MaskedLogProbabilities(Tensor logits)
    {
        logits = logits.to(ScalarType.Float32);
        logits[.., SpecialTokens.Pad] = float.NegativeInfinity;
        logits[.., SpecialTokens.Bos] = float.NegativeInfinity;
        logits[.., SpecialTokens.Unknown] = float.NegativeInfinity;
        return nn.functional.log_softmax(logits, 1);
    }

    /// <summary>
    /// The decoder as the searches use it: rows (samples, or samples' beams) each take one new token
    /// and give the next token's log-probabilities; the searches say which rows live on. State kept
    /// between steps is taken out of the steps' dispose scopes and freed when replaced.
    /// </summary>
    private abstract class DecoderSteps : IDisposable
    {
        public static DecoderSteps Start(SimVlmModel model, Tensor encoded, Tensor valid, IReadOnlyList<int[]> prompts, bool useKeyValueCache)
        {
            var device = encoded.device;
            var promptLengths = tensor(prompts.Select(p => (long)p.Length).ToArray(), device: device);
            return useKeyValueCache
                ? new CachedSteps(model, model.StartDecoding(encoded, valid), promptLengths)
                : new FullTextSteps(model, encoded, valid, promptLengths);
        }

        /// <param name="tokens">(R,) each row's newest token: BOS at the first step.</param>
        /// <returns>(R, vocabulary) log-probabilities of the token after it.</returns>
        public Tensor Next(Tensor tokens) => MaskedLogProbabilities(Logits(tokens));

        protected abstract Tensor Logits(Tensor tokens);

        /// <summary>Keeps these rows, in this order (repeats allowed): beam parents, or unfinished samples.</summary>
        public abstract void KeepRows(long[] rows);

        public abstract void Dispose();

        protected static Tensor Replace(Tensor old, Tensor replacement)
        {
            var owned = replacement.DetachFromDisposeScope();
            old.Dispose();
            return owned;
        }
    }

    /// <summary>One position's work per token: the decoder's keys and values are cached (<see cref="DecoderKeyValueCache"/>).</summary>
    private sealed class CachedSteps(SimVlmModel model, DecoderKeyValueCache cache, Tensor promptLengths) : DecoderSteps
    {
        /// <summary>(R,) the text position of each row's newest token: decoding continues from the prompt's end.</summary>
        private Tensor positions = promptLengths.DetachFromDisposeScope();

        protected override Tensor Logits(Tensor tokens)
        {
            var logits = model.DecodeStep(cache, tokens, positions);
            positions = Replace(positions, positions.add(KeptScalars.One, KeptScalars.One));
            return logits;
        }

        public override void KeepRows(long[] rows)
        {
            using var scope = NewDisposeScope();
            var index = tensor(rows, device: positions.device);
            cache.KeepRows(index);
            positions = Replace(positions, positions.index_select(0, index));
        }

        public override void Dispose()
        {
            cache.Dispose();
            positions.Dispose();
        }
    }

    /// <summary>The uncached decoder: every token reruns the decoder over the whole text so far.</summary>
    private sealed class FullTextSteps : DecoderSteps
    {
        private readonly SimVlmModel model;
        private Tensor encoded, valid, promptLengths, text;

        public FullTextSteps(SimVlmModel model, Tensor encoded, Tensor valid, Tensor promptLengths)
        {
            this.model = model;
            // Handles of their own (sharing the storage), which KeepRows may dispose.
            this.encoded = encoded.detach().DetachFromDisposeScope();
            this.valid = valid.detach().DetachFromDisposeScope();
            this.promptLengths = promptLengths.DetachFromDisposeScope();
            text = empty(encoded.shape[0], 0, dtype: ScalarType.Int64, device: encoded.device).DetachFromDisposeScope();
        }

        protected override Tensor Logits(Tensor tokens)
        {
            text = Replace(text, cat([text, tokens.view(-1, 1)], 1));
            long rows = text.shape[0], length = text.shape[1];
            var positions = promptLengths.view(-1, 1) + arange(length, dtype: ScalarType.Int64, device: text.device);
            return model.Decode(encoded, valid, text, positions, ones(rows, length, dtype: ScalarType.Bool, device: text.device))[.., -1];
        }

        public override void KeepRows(long[] rows)
        {
            using var scope = NewDisposeScope();
            var index = tensor(rows, device: text.device);
            encoded = Replace(encoded, encoded.index_select(0, index));
            valid = Replace(valid, valid.index_select(0, index));
            promptLengths = Replace(promptLengths, promptLengths.index_select(0, index));
            text = Replace(text, text.index_select(0, index));
        }

        public override void Dispose()
        {
            encoded.Dispose();
            valid.Dispose();
            promptLengths.Dispose();
            text.Dispose();
        }
    }
}
