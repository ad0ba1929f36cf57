using Platform.Model.Evaluation.Datasets;
using Platform.Model.Training;

namespace Platform.Model.Evaluation.Checkpoints;

/// <summary>A task item's image, decoded for the model, or why it could not be.</summary>
public sealed record TaskImage(CocoImage Image, float[]? Pixels, string? Problem);

/// <summary>
/// A split's images and texts turned into model inputs: pixels for evaluation, fixed-split PrefixLM
/// samples for fine-tuning. Images are found under images/{split}/{file_name}, {root}/{split}/{file_name}
/// (COCO's val2014/ as unpacked), or at {root}/{file_name} (Karpathy files name them relative to the data root).
/// </summary>
public sealed class TaskData(string dataRoot, SimVlmConfig config, TextTokenizer tokenizer)
{
    private readonly ImagePreprocessor preprocessor = new(config.ImageSize);

    public TaskImage LoadImage(CocoImage image, string split)
    {
        string inSplit = Path.Combine(EvaluationDataLayout.ImagesFolder(dataRoot, split), image.FileName);
        string path = EvaluationDataLayout.ImagesFolderCandidates(dataRoot, split).Select(folder => Path.Combine(folder, image.FileName)).FirstOrDefault(File.Exists)
            ?? Path.Combine(dataRoot, image.FileName);
        if (image.FileName.Length == 0 || !File.Exists(path)) return new TaskImage(image, null, $"image {image.Id}: no file {inSplit}");
        var pixels = preprocessor.Preprocess(File.ReadAllBytes(path), out string? problem);
        return new TaskImage(image, pixels, pixels is null ? $"image {image.Id} ({path}): {problem}" : null);
    }

    /// <summary>
    /// An SNLI-VE or NLVR2 image by its file name in the first of <paramref name="folders"/> that has it;
    /// the same name with .png or .jpg also counts (the offline benchmark writes PNGs where Flickr30k has JPEGs).
    /// </summary>
    public TaskImage LoadNamedImage(string fileName, IReadOnlyList<string> folders)
    {
        string stem = Path.ChangeExtension(fileName, null);
        var path = folders.SelectMany(folder => new[] { fileName, stem + ".png", stem + ".jpg" }.Select(name => Path.Combine(folder, name))).FirstOrDefault(File.Exists);
        var image = new CocoImage(0, fileName, 0, 0);
        if (path is null) return new TaskImage(image, null, $"image {fileName}: not in {string.Join(", ", folders)}");
        var pixels = preprocessor.Preprocess(File.ReadAllBytes(path), out string? problem);
        return new TaskImage(image, pixels, pixels is null ? $"image {fileName} ({path}): {problem}" : null);
    }

    /// <summary>Folders a labelled task's images are looked for in, in order.</summary>
    public IReadOnlyList<string> LabelledImageFolders(EvaluationTask task, string split) => task == EvaluationTask.SnliVe
        ? EvaluationDataLayout.Flickr30kImageFolderCandidates(dataRoot, split)
        : EvaluationDataLayout.Nlvr2ImageFolderCandidates(dataRoot, split);

    /// <summary>Images of a split by id, from its captions file (VQA files carry only image ids).</summary>
    public static IReadOnlyDictionary<long, CocoImage> ImagesById(string dataRoot, string split) =>
        ResultsScoring.ReadCaptionReferences(dataRoot, split).Images.ToDictionary(i => i.Id);

    /// <summary>The prompt's ids, cut so that at least <paramref name="room"/> positions stay free for the generated text.</summary>
    public int[] Prompt(string text, int room)
    {
        if (text.Length == 0) return [];
        int[] ids = tokenizer.EncodeWithoutEos(text);
        int keep = Math.Max(0, config.MaxTextLength - room);
        return ids.Length <= keep ? ids : ids[..keep];
    }

    /// <summary>A fine-tuning sample: the prompt is the text prefix (read by the encoder with the image), the target the suffix.</summary>
    public PrefixLmSample FixedSplitSample(float[] pixels, int[] prompt, string target)
    {
        int[] targetIds = TargetIds(prompt, target);
        return new PrefixLmSample(pixels, [.. prompt, .. targetIds], prompt.Length);
    }

    /// <summary>The ids the decoder is trained to produce after the prompt: the target and end-of-text.</summary>
    public int[] TargetIds(int[] prompt, string target) =>
        // The target continues the prompt, so it takes the leading space it has in running text.
        tokenizer.Encode(prompt.Length == 0 ? target : " " + target.TrimStart(), config.MaxTextLength - prompt.Length);

    /// <summary>
    /// SNLI-VE fine-tuning: the premise image and the hypothesis as the prefix, the label word as the
    /// target (VQA's framing with the answer set cut to the task's labels).
    /// </summary>
    public (IReadOnlyList<PrefixLmSample> Samples, IReadOnlyList<string> Problems) LabelSamples(EvaluationTask task, string split, int maxLabelTokens)
    {
        var dataset = ResultsScoring.ReadLabelledSplit(task, dataRoot, split);
        var folders = LabelledImageFolders(task, split);
        var pixels = new Dictionary<string, float[]?>(StringComparer.Ordinal);
        var samples = new List<PrefixLmSample>();
        var problems = dataset.Skipped.Select(s => $"{s.File} record {s.Index}: {s.Reason}").ToList();
        foreach (var example in dataset.Examples)
        {
            if (example.Images.Count != 1)
                throw new ArgumentException($"{ResultsScoring.TaskName(task)} examples show {example.Images.Count} images; fine-tuning takes one image per example.");
            if (!pixels.TryGetValue(example.Images[0], out var imagePixels))
            {
                var loaded = LoadNamedImage(example.Images[0], folders);
                if (loaded.Problem is not null) problems.Add(loaded.Problem);
                pixels[example.Images[0]] = imagePixels = loaded.Pixels;
            }
            if (imagePixels is null) continue;
            samples.Add(FixedSplitSample(imagePixels, Prompt(example.Text, maxLabelTokens), example.Label));
        }
        return (samples, problems);
    }

    /// <summary>Captioning fine-tuning: every (image, reference caption) pair of the split, continuing the prompt.</summary>
    public (IReadOnlyList<PrefixLmSample> Samples, IReadOnlyList<string> Problems) CaptionSamples(string split, string prompt, int maxCaptionTokens)
    {
        var dataset = ResultsScoring.ReadCaptionReferences(dataRoot, split);
        int[] promptIds = Prompt(prompt, maxCaptionTokens);
        var samples = new List<PrefixLmSample>();
        var problems = dataset.Skipped.Select(s => $"{s.File} record {s.Index}: {s.Reason}").ToList();
        foreach (var image in dataset.Images)
        {
            var loaded = LoadImage(image, split);
            if (loaded.Pixels is null) { problems.Add(loaded.Problem!); continue; }
            foreach (var caption in dataset.Captions[image.Id])
                samples.Add(FixedSplitSample(loaded.Pixels, promptIds, caption));
        }
        return (samples, problems);
    }

    /// <summary>VQA fine-tuning: image and question as the prefix, the most common human answer as the target.</summary>
    public (IReadOnlyList<PrefixLmSample> Samples, IReadOnlyList<string> Problems) VqaSamples(string split, int maxAnswerTokens)
    {
        var dataset = ResultsScoring.ReadVqaSplit(dataRoot, split);
        if (dataset.Annotations.Count == 0) throw new InvalidDataException($"Split '{split}' has no VQA annotations to fine-tune on.");
        var images = ImagesById(dataRoot, split);
        var pixels = new Dictionary<long, float[]?>();
        var samples = new List<PrefixLmSample>();
        var problems = dataset.Skipped.Select(s => $"{s.File} record {s.Index}: {s.Reason}").ToList();
        foreach (var annotation in dataset.Annotations.Values.OrderBy(a => a.QuestionId))
        {
            if (!pixels.TryGetValue(annotation.ImageId, out var imagePixels))
            {
                var loaded = images.TryGetValue(annotation.ImageId, out var image) ? LoadImage(image, split)
                    : new TaskImage(new CocoImage(annotation.ImageId, "", 0, 0), null, $"image {annotation.ImageId} is not listed in split '{split}''s captions file");
                if (loaded.Problem is not null) problems.Add(loaded.Problem);
                pixels[annotation.ImageId] = imagePixels = loaded.Pixels;
            }
            if (imagePixels is null) continue;
            string answer = annotation.MultipleChoiceAnswer.Length > 0 ? annotation.MultipleChoiceAnswer
                : annotation.Answers.GroupBy(a => a).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key;
            samples.Add(FixedSplitSample(imagePixels, Prompt(dataset.Questions[annotation.QuestionId].Question, maxAnswerTokens), answer));
        }
        return (samples, problems);
    }
}
