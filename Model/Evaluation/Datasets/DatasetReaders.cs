using System.Text.Json;

namespace Platform.Model.Evaluation.Datasets;

/// <summary>A record that could not be used, and why; readers skip it and keep going.</summary>
public sealed record SkippedRecord(string File, int Index, string Reason);

public sealed record CocoImage(long Id, string FileName, int Width, int Height);

/// <summary>Images with their reference captions (COCO captions file, or one split of a Karpathy file).</summary>
public sealed record CaptionDataset(IReadOnlyList<CocoImage> Images, IReadOnlyDictionary<long, IReadOnlyList<string>> Captions, IReadOnlyList<SkippedRecord> Skipped);

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
        for (var i = 0; i < file.Images.Count; i++)
        {
            var record = file.Images[i];
            if (record?.Id is not { } id) { skipped.Add(new(path, i, "image without an id")); continue; }
            if (byId.ContainsKey(id)) { skipped.Add(new(path, i, $"duplicate image id {id}")); continue; }
            images.Add(new CocoImage(id, record.FileName ?? "", record.Width ?? 0, record.Height ?? 0));
            byId[id] = [];
        }
        for (var i = 0; i < file.Annotations.Count; i++)
        {
            var record = file.Annotations[i];
            if (record?.ImageId is not { } imageId) { skipped.Add(new(path, i, "caption without an image_id")); continue; }
            if (string.IsNullOrWhiteSpace(record.Caption)) { skipped.Add(new(path, i, $"empty caption for image {imageId}")); continue; }
            if (!byId.TryGetValue(imageId, out var captions)) { skipped.Add(new(path, i, $"caption for unknown image {imageId}")); continue; }
            captions.Add(record.Caption);
        }
        return new CaptionDataset(images, byId.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value), skipped);
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
}
