using Platform.Model.Evaluation.Captioning;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Evaluation.Vqa;

namespace Platform.Model.Evaluation;

/// <summary>The downstream tasks a standard results file can be scored on.</summary>
public enum EvaluationTask
{
    CocoCaptions,
    Vqa,

    /// <summary>Image-text retrieval over a captions split; only checkpoints are scored on it (there is no standard results file).</summary>
    Retrieval,
}

/// <summary>Thrown when a results file does not fit its task's annotations; the message says how.</summary>
public sealed class ResultsMismatchException(string message) : Exception(message);

/// <summary>
/// One task's scores as name/value pairs in report order, with how much was scored and the
/// annotation records the readers skipped (with their reasons).
/// </summary>
public sealed record TaskScores(EvaluationTask Task, string Split, IReadOnlyList<KeyValuePair<string, double>> Scores, int Scored, int Annotated, IReadOnlyList<SkippedRecord> SkippedAnnotations);

/// <summary>
/// Scores standard results files the way the official servers' evaluation code does: a captioning
/// results file is scored on the images it contains (each must be annotated, at most once), a VQA
/// results file must answer exactly the annotated questions.
/// </summary>
public static class ResultsScoring
{
    public static EvaluationTask ParseTask(string name) => name switch
    {
        "coco-captions" => EvaluationTask.CocoCaptions,
        "vqa" => EvaluationTask.Vqa,
        "retrieval" => EvaluationTask.Retrieval,
        _ => throw new ArgumentException($"Unknown task '{name}'; expected coco-captions, vqa or retrieval.", nameof(name)),
    };

    public static string TaskName(EvaluationTask task) => task switch
    {
        EvaluationTask.CocoCaptions => "coco-captions",
        EvaluationTask.Vqa => "vqa",
        EvaluationTask.Retrieval => "retrieval",
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    public static TaskScores ScoreFile(EvaluationTask task, string resultsPath, string dataRoot, string split) => task switch
    {
        EvaluationTask.CocoCaptions => ScoreCaptions(
            DatasetReaders.ReadJson<List<CaptionResultRecord>>(resultsPath), ReadCaptionReferences(dataRoot, split), split),
        EvaluationTask.Vqa => ScoreVqa(
            DatasetReaders.ReadJson<List<VqaResultRecord>>(resultsPath),
            ReadVqaSplit(dataRoot, split), split),
        EvaluationTask.Retrieval => throw new ArgumentException("Retrieval has no standard results file; score a checkpoint on it with --checkpoint."),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>
    /// The split's COCO captions file when there is one, else that split of the Karpathy split file
    /// (how the COCO Karpathy test set that papers report is distributed); either under our name or
    /// as downloaded (<see cref="EvaluationDataLayout.CaptionsFileCandidates"/>).
    /// </summary>
    public static CaptionDataset ReadCaptionReferences(string dataRoot, string split)
    {
        var captionsFiles = EvaluationDataLayout.CaptionsFileCandidates(dataRoot, split);
        if (EvaluationDataLayout.FirstExisting(captionsFiles) is { } captionsFile)
            return DatasetReaders.ReadCocoCaptions(captionsFile);
        var karpathyFiles = EvaluationDataLayout.KarpathySplitsFileCandidates(dataRoot);
        if (EvaluationDataLayout.FirstExisting(karpathyFiles) is { } karpathyFile)
            return DatasetReaders.ReadKarpathySplit(karpathyFile, split);
        throw EvaluationDataLayout.NotFound($"No caption references for split '{split}'", dataRoot, [.. captionsFiles, .. karpathyFiles]);
    }

    /// <summary>The split's VQAv2 questions and annotations, under our names or as downloaded.</summary>
    public static VqaDataset ReadVqaSplit(string dataRoot, string split)
    {
        var (questions, _) = EvaluationDataLayout.FindVqaFiles(dataRoot, split);
        return DatasetReaders.ReadVqa(questions, EvaluationDataLayout.FindVqaAnnotationsFile(dataRoot, split));
    }

    public static TaskScores ScoreCaptions(IReadOnlyList<CaptionResultRecord?> results, CaptionDataset annotations, string split)
    {
        var seen = new HashSet<long>();
        var examples = new List<CaptionExample>();
        var unknown = new List<long>();
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            if (result?.ImageId is not { } imageId || result.Caption is null)
                throw new ResultsMismatchException($"Results entry {i} needs \"image_id\" and \"caption\".");
            if (!seen.Add(imageId))
                throw new ResultsMismatchException($"Results entry {i} repeats image {imageId}; give one caption per image.");
            if (!annotations.Captions.TryGetValue(imageId, out var references) || references.Count == 0)
            {
                unknown.Add(imageId);
                continue;
            }
            examples.Add(new CaptionExample(imageId.ToString(System.Globalization.CultureInfo.InvariantCulture), result.Caption, references));
        }
        if (unknown.Count > 0)
            throw new ResultsMismatchException(
                $"{unknown.Count} result image(s) have no reference captions in split '{split}' (first: {string.Join(", ", unknown.Take(5))}); the results do not belong to this split.");
        if (examples.Count == 0)
            throw new ResultsMismatchException("The results file holds no captions.");
        var scores = CaptionMetrics.Score(examples);
        return new TaskScores(EvaluationTask.CocoCaptions, split, scores.Named(), examples.Count, annotations.Captions.Count(c => c.Value.Count > 0), annotations.Skipped);
    }

    public static TaskScores ScoreVqa(IReadOnlyList<VqaResultRecord?> results, VqaDataset dataset, string split)
    {
        var predictions = new Dictionary<long, string>();
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            if (result?.QuestionId is not { } questionId || result.Answer is null)
                throw new ResultsMismatchException($"Results entry {i} needs \"question_id\" and \"answer\".");
            if (!predictions.TryAdd(questionId, result.Answer))
                throw new ResultsMismatchException($"Results entry {i} repeats question {questionId}; give one answer per question.");
        }
        if (dataset.Annotations.Count == 0)
            throw new ResultsMismatchException($"Split '{split}' has no VQA annotations to score against.");
        var missing = dataset.Annotations.Keys.Where(id => !predictions.ContainsKey(id)).ToArray();
        var extra = predictions.Keys.Where(id => !dataset.Annotations.ContainsKey(id)).ToArray();
        if (missing.Length > 0 || extra.Length > 0)
            throw new ResultsMismatchException(
                $"The results must answer exactly the {dataset.Annotations.Count} annotated questions of split '{split}': " +
                $"{missing.Length} missing (first: {string.Join(", ", missing.Take(5))}), {extra.Length} not annotated (first: {string.Join(", ", extra.Take(5))}).");

        var scores = VqaAccuracy.Score(dataset.Annotations.Values
            .OrderBy(a => a.QuestionId)
            .Select(a => new VqaExample(a.QuestionId, predictions[a.QuestionId], a.Answers, a.AnswerType)));
        var named = new List<KeyValuePair<string, double>> { new("overall", scores.Overall) };
        named.AddRange(scores.PerAnswerType.Select(p => new KeyValuePair<string, double>(p.Key, p.Value)));
        return new TaskScores(EvaluationTask.Vqa, split, named, scores.Questions, dataset.Annotations.Count, dataset.Skipped);
    }
}
