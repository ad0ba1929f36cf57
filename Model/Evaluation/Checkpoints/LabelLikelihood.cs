using static TorchSharp.torch;

namespace Platform.Model.Evaluation.Checkpoints;

/// <summary>
/// SNLI-VE and NLVR2 as generation (the paper's generative framing, no classifier head): the decoder
/// generates the label word after the prefix, restricted to the task's labels, i.e. the label whose
/// tokens (end-of-text included) the decoder finds most likely. NLVR2's two images are each encoded
/// with the statement as the text prefix and the two encodings concatenated into one prefix the decoder
/// attends to, so the same weights read one image (pretraining, SNLI-VE) or two.
/// </summary>
public static class LabelLikelihood
{
    /// <summary>
    /// Encodes each sample's images, each with the sample's prompt as the text prefix, and joins the encodings along the sequence.
    /// </summary>
    /// <param name="images">Per image slot, (B, 3, S, S) pixels: one slot for SNLI-VE, two for NLVR2.</param>
    public static (Tensor Encoded, Tensor Valid) EncodeImagesWithPrompt(SimVlmModel model, IReadOnlyList<Tensor> images, IReadOnlyList<int[]> prompts)
    {
        using var scope = NewDisposeScope();
        var parameter = model.parameters().First();
        var (promptIds, promptValid) = CaptionDecoder.PaddedPrompts(prompts, parameter.device);
        var parts = images.Select(slot => model.Encode(slot.to(parameter.device).to(parameter.dtype), promptIds, promptValid)).ToArray();
        return (cat(parts.Select(p => p.States).ToArray(), 1).MoveToOuterDisposeScope(), cat(parts.Select(p => p.Valid).ToArray(), 1).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// [sample][label] the summed log-probability of the label's tokens (end-of-text included) after
    /// the sample's prompt, given its encoded prefix.
    /// </summary>
    /// <param name="promptLengths">Each sample's prompt length: the text position the label starts at.</param>
    /// <param name="labels">Each label's ids as the decoder produces them (ending with end-of-text).</param>
    public static double[][] Scores(SimVlmModel model, Tensor encoded, Tensor encodedValid, IReadOnlyList<int> promptLengths, IReadOnlyList<int[]> labels)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int samples = promptLengths.Count, count = labels.Count;
        // Row s * count + l scores label l after sample s's prompt.
        var rowSample = Enumerable.Range(0, samples * count).Select(row => (long)(row / count)).ToArray();
        var rows = TeacherForcing(Enumerable.Range(0, samples * count).Select(row => labels[row % count]).ToArray(),
            rowSample.Select(s => promptLengths[(int)s]).ToArray(), encoded.device);
        var index = tensor(rowSample, device: encoded.device);
        var logits = model.Decode(encoded.index_select(0, index), encodedValid.index_select(0, index), rows.Input, rows.Positions, rows.Valid);
        var picked = nn.functional.log_softmax(logits.to(ScalarType.Float32), 2)
            .gather(2, rows.Targets.clamp_min(KeptScalars.Zero).unsqueeze(2)).squeeze(2)
            .masked_fill(rows.Valid.logical_not(), KeptScalars.Zero).sum(1).cpu().data<float>().ToArray();
        return Enumerable.Range(0, samples).Select(s => Enumerable.Range(0, count).Select(l => (double)picked[s * count + l]).ToArray()).ToArray();
    }

    /// <summary>The decoder's inputs to score (or train) each row's target after its prompt.</summary>
    /// <param name="Input">(R, L) BOS, then the target without its last token.</param>
    /// <param name="Positions">(R, L) text positions, continuing from the prompt's end.</param>
    /// <param name="Targets">(R, L) the target ids, <see cref="PrefixLmBatch.IgnoredTarget"/> at padding.</param>
    internal sealed record DecoderRows(Tensor Input, Tensor Positions, Tensor Valid, Tensor Targets);

    internal static DecoderRows TeacherForcing(IReadOnlyList<int[]> targets, IReadOnlyList<int> startPositions, Device device)
    {
        int rows = targets.Count, length = targets.Max(t => t.Length);
        var input = new long[rows * length];
        var positions = new long[rows * length];
        var valid = new bool[rows * length];
        var expected = Enumerable.Repeat(PrefixLmBatch.IgnoredTarget, rows * length).ToArray();
        for (int row = 0; row < rows; row++)
            for (int i = 0; i < targets[row].Length; i++)
            {
                input[row * length + i] = i == 0 ? SpecialTokens.Bos : targets[row][i - 1];
                positions[row * length + i] = startPositions[row] + i;
                valid[row * length + i] = true;
                expected[row * length + i] = targets[row][i];
            }
        return new DecoderRows(tensor(input, [rows, length], device: device), tensor(positions, [rows, length], device: device),
            tensor(valid, [rows, length], device: device), tensor(expected, [rows, length], device: device));
    }
}
