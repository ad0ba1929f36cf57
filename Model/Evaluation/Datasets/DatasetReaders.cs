using System.Text.Json;

namespace Platform.Model.Evaluation.Datasets;

/// <summary>A record that could not be used, and why; readers skip it and keep going.</summary>
public sealed record SkippedRecord(string File, int Index, string Reason);

public sealed record CocoImage(long Id, string FileName, int Width, int Height);

/// <summary>
/// Images with their reference captions (COCO captions file, or one split of a Karpathy file);
/// <paramref name="Domains"/> the NoCaps domain of each image that has one (empty for COCO).
/// </summary>
public sealed record CaptionDataset(IReadOnlyList<CocoImage> Images, IReadOnlyDictionary<long, IReadOnlyList<string>> Captions, IReadOnlyList<SkippedRecord> Skipped,
    IReadOnlyDictionary<long, string>? Domains = null);

/// <summary>
/// An example of a task whose answer is one of a few labels (SNLI-VE, NLVR2): its id, the images it
/// shows (one for SNLI-VE, two for NLVR2, as file names without folder), the text and the gold label.
/// </summary>
public sealed record LabelledExample(string Id, IReadOnlyList<string> Images, string Text, string Label);

public sealed record LabelledDataset(IReadOnlyList<LabelledExample> Examples, IReadOnlyList<string> Labels, IReadOnlyList<SkippedRecord> Skipped);

public sealed record VqaQuestion(long QuestionId, long ImageId, string Question);

public sealed record VqaAnnotation(long QuestionId, long ImageId, string QuestionType, string AnswerType, string MultipleChoiceAnswer, IReadOnlyList<string> Answers);

public sealed record VqaDataset(IReadOnlyDictionary<long, VqaQuestion> Questions, IReadOnlyDictionary<long, VqaAnnotation> Annotations, IReadOnlyList<SkippedRecord> Skipped);

/// <summary>Thrown when a file cannot be used at all (not JSON, wrong top-level shape).</summary>
public sealed class DatasetFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Readers for the public evaluation file formats (System.Text.Json, field names as published).</summary>
public static class DatasetReaders
{
    internal static readonly JsonSerializerOptions Json = new() { ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    internal static T ReadJson<T>(string path) where T : class
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"File not found: {path}", path);
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<T>(stream, Json)
                ?? throw new DatasetFormatException($"{path}: the file holds JSON null, expected a {typeof(T).Name}.");
        }
        catch (JsonException e)
        {
            throw new DatasetFormatException($"{path}: not a valid {Described(typeof(T))} ({e.Message})", e);
        }
    }

    // "List`1" says nothing to a person who wrote the file.
    private static string Described(Type type) =>
        type.IsGenericType ? $"JSON array of {type.GetGenericArguments()[0].Name} objects" : type.Name;

    /// <summary>Reads a COCO captions file (`images` + `annotations`, e.g. captions_val2014.json).</summary>
    public static CaptionDataset ReadCocoCaptions(string path)
    {
        var file = ReadJson<CocoCaptionFile>(path);
        if (file.Images is null || file.Annotations is null)
            throw new DatasetFormatException($"{path}: a COCO captions file needs top-level \"images\" and \"annotations\" arrays.");
        var skipped = new List<SkippedRecord>();
        var images = new List<CocoImage>();
        var byId = new Dictionary<long, List<string>>();
        var domains = new Dictionary<long, string>();
        for (var i = 0; i < file.Images.Count; i++)
        {
            var record = file.Images[i];
            if (record?.Id is not { } id) { skipped.Add(new(path, i, "image without an id")); continue; }
            if (byId.ContainsKey(id)) { skipped.Add(new(path, i, $"duplicate image id {id}")); continue; }
            images.Add(new CocoImage(id, record.FileName ?? "", record.Width ?? 0, record.Height ?? 0));
            byId[id] = [];
            if (record.Domain is { Length: > 0 } domain) domains[id] = domain;
        }
        for (var i = 0; i < file.Annotations.Count; i++)
        {
            var record = file.Annotations[i];
            if (record?.ImageId is not { } imageId) { skipped.Add(new(path, i, "caption without an image_id")); continue; }
            if (string.IsNullOrWhiteSpace(record.Caption)) { skipped.Add(new(path, i, $"empty caption for image {imageId}")); continue; }
            if (!byId.TryGetValue(imageId, out var captions)) { skipped.Add(new(path, i, $"caption for unknown image {imageId}")); continue; }
            captions.Add(record.Caption);
        }
        return new CaptionDataset(images, byId.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value), skipped, domains);
    }

    /// <summary>Karpathy's split names; "restval" is the part of the COCO val set used for training.</summary>
    public static readonly string[] KarpathySplits = ["train", "restval", "val", "test"];

    /// <summary>
    /// Reads one split of a Karpathy split file. The image id is `cocoid` when present (COCO), else
    /// `imgid` (Flickr30k); the file name is `filepath/filename`; captions are the `raw` sentences.
    /// </summary>
    public static CaptionDataset ReadKarpathySplit(string path, string split)
    {
        var file = ReadJson<KarpathySplitFile>(path);
        if (file.Images is null)
            throw new DatasetFormatException($"{path}: a Karpathy split file needs a top-level \"images\" array.");
        var skipped = new List<SkippedRecord>();
        var images = new List<CocoImage>();
        var captions = new Dictionary<long, IReadOnlyList<string>>();
        for (var i = 0; i < file.Images.Count; i++)
        {
            var record = file.Images[i];
            if (record is null) { skipped.Add(new(path, i, "null image record")); continue; }
            if (!string.Equals(record.Split, split, StringComparison.Ordinal)) continue;
            if ((record.CocoId ?? record.ImgId) is not { } id) { skipped.Add(new(path, i, "image without cocoid or imgid")); continue; }
            if (captions.ContainsKey(id)) { skipped.Add(new(path, i, $"duplicate image id {id}")); continue; }
            var raw = (record.Sentences ?? []).Select(s => s?.Raw).Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => r!).ToArray();
            if (raw.Length == 0) { skipped.Add(new(path, i, $"image {id} has no sentences")); continue; }
            var fileName = string.IsNullOrEmpty(record.FilePath) ? record.FileName ?? "" : $"{record.FilePath}/{record.FileName}";
            images.Add(new CocoImage(id, fileName, 0, 0));
            captions[id] = raw;
        }
        return new CaptionDataset(images, captions, skipped);
    }

    /// <summary>Reads a VQAv2 questions file and its annotations file (annotations may be absent for test splits).</summary>
    public static VqaDataset ReadVqa(string questionsPath, string? annotationsPath)
    {
        var questionFile = ReadJson<VqaQuestionFile>(questionsPath);
        if (questionFile.Questions is null)
            throw new DatasetFormatException($"{questionsPath}: a VQA questions file needs a top-level \"questions\" array.");
        var skipped = new List<SkippedRecord>();
        var questions = new Dictionary<long, VqaQuestion>();
        for (var i = 0; i < questionFile.Questions.Count; i++)
        {
            var record = questionFile.Questions[i];
            if (record?.QuestionId is not { } questionId || record.ImageId is not { } imageId || record.Question is null)
            { skipped.Add(new(questionsPath, i, "question without question_id, image_id or question")); continue; }
            if (!questions.TryAdd(questionId, new VqaQuestion(questionId, imageId, record.Question)))
                skipped.Add(new(questionsPath, i, $"duplicate question_id {questionId}"));
        }

        var annotations = new Dictionary<long, VqaAnnotation>();
        if (annotationsPath is not null)
        {
            var annotationFile = ReadJson<VqaAnnotationFile>(annotationsPath);
            if (annotationFile.Annotations is null)
                throw new DatasetFormatException($"{annotationsPath}: a VQA annotations file needs a top-level \"annotations\" array.");
            for (var i = 0; i < annotationFile.Annotations.Count; i++)
            {
                var record = annotationFile.Annotations[i];
                if (record?.QuestionId is not { } questionId || record.ImageId is not { } imageId)
                { skipped.Add(new(annotationsPath, i, "annotation without question_id or image_id")); continue; }
                var answers = (record.Answers ?? []).Select(a => a?.Answer).ToArray();
                if (answers.Length < 2 || answers.Any(a => a is null))
                { skipped.Add(new(annotationsPath, i, $"question {questionId} needs at least two answers, each with an \"answer\"")); continue; }
                if (!questions.ContainsKey(questionId))
                { skipped.Add(new(annotationsPath, i, $"annotation for unknown question {questionId}")); continue; }
                var annotation = new VqaAnnotation(questionId, imageId, record.QuestionType ?? "", record.AnswerType ?? "",
                    record.MultipleChoiceAnswer ?? "", answers.Select(a => a!).ToArray());
                if (!annotations.TryAdd(questionId, annotation))
                    skipped.Add(new(annotationsPath, i, $"duplicate annotation for question {questionId}"));
            }
        }
        return new VqaDataset(questions, annotations, skipped);
    }

    /// <summary>SNLI-VE's three labels, in the order the dataset's papers list them.</summary>
    public static readonly string[] SnliVeLabels = ["entailment", "neutral", "contradiction"];

    /// <summary>NLVR2's labels as the model generates them (the files write "True" / "False").</summary>
    public static readonly string[] Nlvr2Labels = ["true", "false"];

    /// <summary>
    /// Reads SNLI-VE's snli_ve_{split}.jsonl: one JSON object per line; the premise image is the
    /// Flickr30k image `{Flickr30K_ID}.jpg`, the text the hypothesis (`sentence2`), the label `gold_label`.
    /// </summary>
    public static LabelledDataset ReadSnliVe(string path)
    {
        var skipped = new List<SkippedRecord>();
        var examples = new List<LabelledExample>();
        foreach (var (index, record) in ReadJsonLines<SnliVeRecord>(path, skipped))
        {
            if (record.Flickr30kId is not { Length: > 0 } image || record.Hypothesis is not { Length: > 0 } hypothesis)
            { skipped.Add(new(path, index, "record without Flickr30K_ID or sentence2")); continue; }
            if (record.GoldLabel is not { } label || !SnliVeLabels.Contains(label))
            { skipped.Add(new(path, index, $"gold_label '{record.GoldLabel}' is not one of {string.Join(", ", SnliVeLabels)}")); continue; }
            examples.Add(new LabelledExample(record.PairId ?? $"{index}", [$"{image}.jpg"], hypothesis, label));
        }
        return new LabelledDataset(examples, SnliVeLabels, skipped);
    }

    /// <summary>
    /// Reads NLVR2's {split}.json: one JSON object per line; `identifier` "{split}-{set}-{pair}-{sentence}"
    /// names the images "{split}-{set}-{pair}-img0.png" and "-img1.png" (the identifier without its sentence index).
    /// </summary>
    public static LabelledDataset ReadNlvr2(string path)
    {
        var skipped = new List<SkippedRecord>();
        var examples = new List<LabelledExample>();
        foreach (var (index, record) in ReadJsonLines<Nlvr2Record>(path, skipped))
        {
            int dash = record.Identifier?.LastIndexOf('-') ?? -1;
            if (record.Identifier is not { } identifier || dash <= 0 || record.Sentence is not { Length: > 0 } sentence)
            { skipped.Add(new(path, index, "record without an identifier of the form split-set-pair-sentence, or without a sentence")); continue; }
            var label = record.Label?.ToLowerInvariant();
            if (label is null || !Nlvr2Labels.Contains(label))
            { skipped.Add(new(path, index, $"label '{record.Label}' is not True or False")); continue; }
            string pair = identifier[..dash];
            string folder = record.Directory is { } directory ? $"{directory.ToString(System.Globalization.CultureInfo.InvariantCulture)}/" : "";
            examples.Add(new LabelledExample(identifier, [$"{folder}{pair}-img0.png", $"{folder}{pair}-img1.png"], sentence, label));
        }
        return new LabelledDataset(examples, Nlvr2Labels, skipped);
    }

    /// <summary>JSON lines: every non-blank line one object; a line that does not parse is skipped with its reason.</summary>
    static IEnumerable<(int Index, T Record)> ReadJsonLines<T>(string path, List<SkippedRecord> skipped) where T : class
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"File not found: {path}", path);
        int index = -1;
        foreach (var line in File.ReadLines(path))
        {
            index++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            T? record;
            try
            {
                record = JsonSerializer.Deserialize<T>(line, Json);
            }
            catch (JsonException e)
            {
                skipped.Add(new(path, index, $"line {index + 1} is not a JSON object ({e.Message})"));
                continue;
            }
            if (record is null) { skipped.Add(new(path, index, $"line {index + 1} is null")); continue; }
            yield return (index, record);
        }
    }
}
