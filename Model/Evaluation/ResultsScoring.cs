using Platform.Model.Evaluation.Captioning;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Evaluation.Understanding;
using Platform.Model.Evaluation.Vqa;

namespace Platform.Model.Evaluation;

/// <summary>The downstream tasks a standard results file can be scored on.</summary>
public enum EvaluationTask
{
    CocoCaptions,
    Vqa,

    /// <summary>Image-text retrieval over a captions split; only checkpoints are scored on it (there is no standard results file).</summary>
    Retrieval,

    /// <summary>SNLI-VE: does the image entail, contradict or say nothing about the hypothesis; accuracy.</summary>
    SnliVe,

    /// <summary>NLVR2: is the statement true of the pair of images; accuracy.</summary>
    Nlvr2,

    /// <summary>NoCaps: captioning in the COCO captions format, CIDEr per in/near/out-domain split and overall.</summary>
    NoCaps,
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
        "snli-ve" => EvaluationTask.SnliVe,
        "nlvr2" => EvaluationTask.Nlvr2,
        "nocaps" => EvaluationTask.NoCaps,
        _ => throw new ArgumentException($"Unknown task '{name}'; expected {string.Join(", ", TaskNames)}.", nameof(name)),
    };

    /// <summary>Every task's name, as `--task` takes it.</summary>
    public static IReadOnlyList<string> TaskNames => Enum.GetValues<EvaluationTask>().Select(TaskName).ToArray();

    public static string TaskName(EvaluationTask task) => task switch
    {
        EvaluationTask.CocoCaptions => "coco-captions",
        EvaluationTask.Vqa => "vqa",
        EvaluationTask.Retrieval => "retrieval",
        EvaluationTask.SnliVe => "snli-ve",
        EvaluationTask.Nlvr2 => "nlvr2",
        EvaluationTask.NoCaps => "nocaps",
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
        EvaluationTask.SnliVe or EvaluationTask.Nlvr2 => ScoreLabels(task,
            DatasetReaders.ReadJson<List<LabelResultRecord>>(resultsPath), ReadLabelledSplit(task, dataRoot, split), split),
        EvaluationTask.NoCaps => ScoreNoCaps(
            DatasetReaders.ReadJson<List<CaptionResultRecord>>(resultsPath), ReadNoCapsReferences(dataRoot, split), split),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>The split's SNLI-VE or NLVR2 examples, from the file under its download name.</summary>
    public static LabelledDataset ReadLabelledSplit(EvaluationTask task, string dataRoot, string split) => task switch
    {
        EvaluationTask.SnliVe => DatasetReaders.ReadSnliVe(EvaluationDataLayout.FindFile($"No SNLI-VE file for split '{split}'", dataRoot, EvaluationDataLayout.SnliVeFileCandidates(dataRoot, split))),
        EvaluationTask.Nlvr2 => DatasetReaders.ReadNlvr2(EvaluationDataLayout.FindFile($"No NLVR2 file for split '{split}'", dataRoot, EvaluationDataLayout.Nlvr2FileCandidates(dataRoot, split))),
        _ => throw new ArgumentOutOfRangeException(nameof(task), $"{TaskName(task)} is not a labelled task."),
    };

    /// <summary>NoCaps' captions file (COCO captions format, a `domain` per image) for the split.</summary>
    public static CaptionDataset ReadNoCapsReferences(string dataRoot, string split) =>
        DatasetReaders.ReadCocoCaptions(EvaluationDataLayout.FindFile($"No NoCaps captions for split '{split}'", dataRoot, EvaluationDataLayout.NoCapsFileCandidates(dataRoot, split)));

    /// <summary>Reads what a task's split needs to be scored (annotations, references), so a bad data folder is found before any work.</summary>
    public static void CheckSplitReadable(EvaluationTask task, string dataRoot, string split)
    {
        switch (task)
        {
            case EvaluationTask.Vqa: ReadVqaSplit(dataRoot, split); break;
            case EvaluationTask.SnliVe or EvaluationTask.Nlvr2: ReadLabelledSplit(task, dataRoot, split); break;
            case EvaluationTask.NoCaps: ReadNoCapsReferences(dataRoot, split); break;
            default: ReadCaptionReferences(dataRoot, split); break;
        }
    }

    /// <summary>
    /// Accuracy in percent over every annotated example: a prediction is right when, trimmed and
    /// lower-cased with a final period dropped, it equals the gold label. The results must answer
    /// exactly the annotated examples.
    /// </summary>
    public static TaskScores ScoreLabels(EvaluationTask task, IReadOnlyList<LabelResultRecord?> results, LabelledDataset dataset, string split)
    {
        var predictions = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            if (result?.Id is not { } id || result.Prediction is null)
                throw new ResultsMismatchException($"Results entry {i} needs \"id\" and \"prediction\".");
            if (!predictions.TryAdd(id, result.Prediction))
                throw new ResultsMismatchException($"Results entry {i} repeats example {id}; give one prediction per example.");
        }
        if (dataset.Examples.Count == 0)
            throw new ResultsMismatchException($"Split '{split}' has no {TaskName(task)} examples to score against.");
        var missing = dataset.Examples.Where(e => !predictions.ContainsKey(e.Id)).Select(e => e.Id).ToArray();
        var known = dataset.Examples.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        var extra = predictions.Keys.Where(id => !known.Contains(id)).ToArray();
        if (missing.Length > 0 || extra.Length > 0)
            throw new ResultsMismatchException(
                $"The results must answer exactly the {dataset.Examples.Count} examples of split '{split}': " +
                $"{missing.Length} missing (first: {string.Join(", ", missing.Take(5))}), {extra.Length} not annotated (first: {string.Join(", ", extra.Take(5))}).");
        var named = new List<KeyValuePair<string, double>> { new("accuracy", LabelAccuracy.Percent(dataset.Examples.Select(e => (predictions[e.Id], e.Label)))) };
        foreach (var label in dataset.Labels)
        {
            var withLabel = dataset.Examples.Where(e => e.Label == label).ToArray();
            if (withLabel.Length > 0) named.Add(new(label, LabelAccuracy.Percent(withLabel.Select(e => (predictions[e.Id], e.Label)))));
        }
        return new TaskScores(task, split, named, dataset.Examples.Count, dataset.Examples.Count, dataset.Skipped);
    }

    /// <summary>
    /// NoCaps: the COCO caption metrics over every captioned image, then CIDEr on each domain's images
    /// alone (as the NoCaps evaluation reports them: document frequencies from that domain's references).
    /// </summary>
    public static TaskScores ScoreNoCaps(IReadOnlyList<CaptionResultRecord?> results, CaptionDataset references, string split)
    {
        var overall = ScoreCaptions(results, references, split);
        var named = overall.Scores.ToList();
        var domains = references.Domains ?? new Dictionary<long, string>();
        foreach (var domain in NoCapsDomains)
        {
            var inDomain = results.Where(r => r?.ImageId is { } id && domains.GetValueOrDefault(id) == domain).ToArray();
            if (inDomain.Length == 0) continue;
            var cider = ScoreCaptions(inDomain, references, split).Scores.Single(p => p.Key == "CIDEr").Value;
            named.Add(new($"CIDEr_{domain}", cider));
        }
        return overall with { Task = EvaluationTask.NoCaps, Scores = named };
    }

    /// <summary>NoCaps' domains, in the order its leaderboard lists them.</summary>
    public static readonly string[] NoCapsDomains = ["in-domain", "near-domain", "out-domain"];

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
