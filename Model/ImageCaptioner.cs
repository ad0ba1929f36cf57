using static TorchSharp.torch;

namespace Platform.Model;

/// <summary>A caption for one image file, or why there is none.</summary>
public sealed record ImageCaption(string Path, string? Caption, string? Problem);

/// <summary>Captions image files with a trained model: `platform caption`.</summary>
public sealed class ImageCaptioner(SimVlmModel model, TextTokenizer tokenizer)
{
    /// <param name="prompt">Text the caption continues (the paper's zero-shot "A picture of"); it is not repeated in the output.</param>
    /// <param name="beamSize">1 decodes greedily; more uses beam search (each image its own beams, all images batched).</param>
    public IReadOnlyList<ImageCaption> Caption(IReadOnlyList<string> imagePaths, string prompt = "", int beamSize = 1, int maxTokens = 30)
    {
        var preprocessor = new ImagePreprocessor(model.Config.ImageSize);
        int[] promptIds = prompt.Length == 0 ? [] : tokenizer.EncodeWithoutEos(prompt);
        var results = new ImageCaption?[imagePaths.Count];
        var ready = new List<(int Index, float[] Pixels)>();
        for (int i = 0; i < imagePaths.Count; i++)
        {
            float[]? pixels = File.Exists(imagePaths[i]) ? preprocessor.Preprocess(File.ReadAllBytes(imagePaths[i]), out string? problem) : null;
            if (pixels is null) results[i] = new ImageCaption(imagePaths[i], null, File.Exists(imagePaths[i]) ? "not a decodable image" : "no such file");
            else ready.Add((i, pixels));
        }
        if (ready.Count > 0)
        {
            using var scope = NewDisposeScope();
            int side = model.Config.ImageSize;
            var images = tensor(ready.SelectMany(r => r.Pixels).ToArray(), [ready.Count, 3, side, side]);
            var decoded = beamSize <= 1
                ? CaptionDecoder.Greedy(model, images, ready.Select(_ => promptIds).ToArray(), maxTokens)
                : CaptionDecoder.BeamBatch(model, images, ready.Select(_ => promptIds).ToArray(), beamSize, maxTokens);
            for (int j = 0; j < ready.Count; j++)
                results[ready[j].Index] = new ImageCaption(imagePaths[ready[j].Index], tokenizer.Decode(decoded[j].Tokens).Trim(), null);
        }
        return results.Select(r => r!).ToArray();
    }
}
