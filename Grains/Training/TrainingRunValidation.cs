using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Model;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Checkpoints;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Training;

namespace Platform.Grains.Training;

/// <summary>
/// What is wrong with a run before it is queued, in words for the user (the CLI exits with 2, the API answers 400):
/// <see cref="Problems"/> from the spec and the files it names, <see cref="ClusterProblems"/> from what the cluster
/// holds. An empty list means the run may be submitted.
/// </summary>
public static class TrainingRunValidation
{
    public static readonly string[] DeviceKinds = ["cpu", "cuda"];

    /// <summary>Problems visible from the spec and the files it names (eval data, text documents, tokenizer model), as this machine sees them.</summary>
    public static IReadOnlyList<string> Problems(TrainingRunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problems = new List<string>();
        if (TrainingRunIds.Problem(spec.RunId) is { } runId) problems.Add(runId);
        if (!DatasetNames.IsValid(spec.Dataset ?? "")) problems.Add(DatasetNames.Invalid(spec.Dataset ?? ""));
        if (spec.Steps < 1) problems.Add($"Steps must be at least 1, not {spec.Steps}.");
        if (spec.Devices < 1) problems.Add($"A run needs at least 1 device, not {spec.Devices}.");
        if (spec.DeviceKind is { } kind && !DeviceKinds.Contains(kind))
            problems.Add($"Device kind '{kind}' is unknown; expected {string.Join(" or ", DeviceKinds)} (or none for any kind).");
        Catch(problems, () => SimVlmConfig.Preset(spec.Preset ?? ""));
        // The optimiser's settings are the Model library's to judge; a bad step count is already reported above.
        Catch(problems, () => TrainingRunRequests.Options(spec with { Steps = Math.Max(1, spec.Steps) }, checkpointFolder: "").Validate());
        if (spec.ShuffleBuffer < 1) problems.Add($"The shuffle buffer must hold at least 1 sample, not {spec.ShuffleBuffer}.");
        if (spec.Retention.KeepLast < 0 || spec.Retention.KeepEvery < 0)
            problems.Add($"Retention settings must not be negative (keep last {spec.Retention.KeepLast}, keep every {spec.Retention.KeepEvery}).");
        if (spec.Tokenizer != TextTokenizer.Gpt2)
        {
            string prefix = TextTokenizer.SentencePiece + ":";
            if (!spec.Tokenizer.StartsWith(prefix, StringComparison.Ordinal))
                problems.Add($"Unknown tokenizer '{spec.Tokenizer}'; expected '{TextTokenizer.Gpt2}' or '{prefix}PATH'.");
            else if (!File.Exists(spec.Tokenizer[prefix.Length..]))
                problems.Add($"No SentencePiece model at {spec.Tokenizer[prefix.Length..]}.");
        }
        foreach (string document in spec.TextDocuments.Where(d => !File.Exists(d)))
            problems.Add($"Text documents {document} cannot be read: no such file.");
        foreach (var duplicate in spec.Evaluations.GroupBy(e => e.Task).Where(g => g.Count() > 1))
            problems.Add($"Evaluation task '{duplicate.Key}' is named {duplicate.Count()} times; each task scores a checkpoint once.");
        foreach (var evaluation in spec.Evaluations) problems.AddRange(EvaluationProblems(evaluation));
        return problems;
    }

    /// <summary>
    /// Problems only the cluster can show: the dataset has no committed shards (it does not exist, or nothing is
    /// committed yet), or the run asks for more devices of one kind than the cluster has at all (not merely free now).
    /// </summary>
    /// <param name="committedShards">The dataset's manifest entries (<see cref="DatasetManifestStore.ReadAsync"/>).</param>
    /// <param name="devices">Every device of the cluster (<see cref="IDeviceInventoryGrain.ListDevices"/>).</param>
    public static IReadOnlyList<string> ClusterProblems(TrainingRunSpec spec, IReadOnlyList<ManifestShard> committedShards, IReadOnlyList<ClusterDevice> devices)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problems = new List<string>();
        if (committedShards.Count == 0) problems.Add($"Dataset '{spec.Dataset}' does not exist or has no committed shards.");
        var byKind = devices.GroupBy(d => d.Kind).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        string offered = byKind.Count == 0 ? "no devices" : string.Join(", ", byKind.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Value} {p.Key}"));
        if (spec.DeviceKind is { } kind)
        {
            if (byKind.GetValueOrDefault(kind) < spec.Devices)
                problems.Add($"The run needs {spec.Devices} {kind} device(s); the cluster has {offered}.");
        }
        else if (byKind.Values.DefaultIfEmpty(0).Max() < spec.Devices)
            problems.Add($"The run needs {spec.Devices} devices of one kind; the cluster has {offered}.");
        return problems;
    }

    /// <summary>The task must be known and its data folder must hold the files the evaluator reads for the split.</summary>
    private static IEnumerable<string> EvaluationProblems(RunEvaluation evaluation)
    {
        EvaluationTask task;
        try
        {
            task = ResultsScoring.ParseTask(evaluation.Task);
        }
        catch (ArgumentException e)
        {
            return [e.Message];
        }
        var problems = new List<string>();
        Catch(problems, () => new CheckpointEvaluationOptions { BeamSize = evaluation.BeamSize, MaxImages = evaluation.MaxImages, Split = evaluation.Split }.Validate(),
            $"Evaluation '{evaluation.Task}': ");
        string root = evaluation.DataRoot ?? "";
        if (!Directory.Exists(root))
        {
            problems.Add($"Evaluation '{evaluation.Task}': its data folder '{root}' does not exist (make one with `platform benchmark-data`).");
            return problems;
        }
        // Every task finds its images through the split's captions (or the Karpathy split file); VQA needs its questions and answers too.
        string captions = EvaluationDataLayout.CaptionsFile(root, evaluation.Split);
        string karpathy = EvaluationDataLayout.KarpathySplitsFile(root);
        if (!File.Exists(captions) && !(File.Exists(karpathy) && DatasetReaders.KarpathySplits.Contains(evaluation.Split)))
            problems.Add($"Evaluation '{evaluation.Task}': no caption references for split '{evaluation.Split}' (expected {captions}, or {karpathy} for the splits {string.Join(", ", DatasetReaders.KarpathySplits)}).");
        if (task == EvaluationTask.Vqa)
            foreach (string file in new[] { EvaluationDataLayout.VqaQuestionsFile(root, evaluation.Split), EvaluationDataLayout.VqaAnnotationsFile(root, evaluation.Split) })
                if (!File.Exists(file)) problems.Add($"Evaluation 'vqa': {file} is missing.");
        return problems;
    }

    private static void Catch(List<string> problems, Action check, string prefix = "")
    {
        try
        {
            check();
        }
        catch (ArgumentException e)
        {
            problems.Add(prefix + e.Message.Split(" (Parameter '", 2)[0]);
        }
    }
}
