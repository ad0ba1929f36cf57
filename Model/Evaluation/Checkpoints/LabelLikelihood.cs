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
        int batch = prompts.Count, width = prompts.Max(p => p.Length);
        var ids = new long[batch * width];
        var valid = new bool[batch * width];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < prompts[b].Length; t++)
            {
                ids[b * width + t] = prompts[b][t];
                valid[b * width + t] = true;
            }
        var promptIds = tensor(ids, [batch, width], device: parameter.device);
        var promptValid = tensor(valid, [batch, width], device: parameter.device);
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
        var device = encoded.device;
        int samples = promptLengths.Count, count = labels.Count, length = labels.Max(l => l.Length), rows = samples * count;
        var input = new long[rows * length];
        var positions = new long[rows * length];
        var valid = new bool[rows * length];
        var targets = new long[rows * length];
        var rowSample = new long[rows];
        for (int s = 0; s < samples; s++)
            for (int l = 0; l < count; l++)
            {
                int row = s * count + l;
                rowSample[row] = s;
                for (int i = 0; i < labels[l].Length; i++)
                {
                    input[row * length + i] = i == 0 ? SpecialTokens.Bos : labels[l][i - 1];
                    positions[row * length + i] = promptLengths[s] + i;
                    valid[row * length + i] = true;
                    targets[row * length + i] = labels[l][i];
                }
            }
        var index = tensor(rowSample, device: device);
        var validMask = tensor(valid, [rows, length], device: device);
        var logits = model.Decode(encoded.index_select(0, index), encodedValid.index_select(0, index),
            tensor(input, [rows, length], device: device), tensor(positions, [rows, length], device: device), validMask);
        var picked = nn.functional.log_softmax(logits.to(ScalarType.Float32), 2)
            .gather(2, tensor(targets, [rows, length, 1], device: device)).squeeze(2)
            .masked_fill(validMask.logical_not(), 0).sum(1).cpu().data<float>().ToArray();
        return Enumerable.Range(0, samples).Select(s => Enumerable.Range(0, count).Select(l => (double)picked[s * count + l]).ToArray()).ToArray();
    }
}
