using System.Security.Cryptography;
using System.Text.Json;
using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Training;

namespace Platform.Silo.Hosting;

/// <summary>Something wrong with a training submission: the spec field it concerns, as the HTTP API names it, and what to do.</summary>
public sealed record TrainingSubmissionProblem(string Field, string Message);

/// <summary>A run as it is to be submitted (local paths made absolute) and what is wrong with it: nothing, when it may be queued.</summary>
public sealed record TrainingSubmission(TrainingRunSpec Spec, IReadOnlyList<TrainingSubmissionProblem> Problems)
{
    public bool IsValid => Problems.Count == 0;
}

/// <summary>
/// Taking a training run, whichever way it comes in (`platform train submit`, <c>POST /api/train/runs</c>): paths made
/// absolute, and everything checked that would otherwise only fail once the run holds devices — the dataset has committed
/// shards, the preset exists, the cluster has enough devices of the kind, the evaluation data can be read — so a bad run
/// is refused with every problem in words before anything is queued.
/// </summary>
public sealed class TrainingSubmissions(DatasetManifestStore manifests, IGrainFactory grains)
{
    public static readonly string[] DeviceKinds = ["cpu", "cuda"];

    /// <summary>An id for a run submitted without one: readable, ordered by time, and unlikely to meet another's.</summary>
    public static string NewRunId(DateTimeOffset now) =>
        $"run-{now.UtcDateTime:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";

    /// <summary>
    /// The spec with its local paths made absolute from <paramref name="baseDirectory"/> (the command line's working
    /// directory), and its problems. With a null base directory (a web request, whose sender's directory this host cannot
    /// know) relative paths are refused, not resolved.
    /// </summary>
    public async Task<TrainingSubmission> CheckAsync(TrainingRunSpec spec, string? baseDirectory, CancellationToken cancellationToken)
    {
        spec = Absolute(spec, baseDirectory);
        var problems = ShapeProblems(spec).ToList();
        if (DatasetNames.IsValid(spec.Dataset ?? "")) await CheckDatasetAsync(spec.Dataset!, problems, cancellationToken);
        if (spec.Devices >= 1 && spec.DeviceKind is null or "cpu" or "cuda") await CheckDeviceCapacityAsync(spec, problems);
        if (spec.CheckpointLocation is { } location && BlobCheckpointStore.IsBlobLocation(location) && BlobLocationProblem(location) is { } blobProblem)
            problems.Add(new("checkpointLocation", blobProblem));
        return new TrainingSubmission(spec, problems);
    }

    /// <summary>The silos write checkpoints with the platform's own storage account, so a container elsewhere could never be written.</summary>
    private string? BlobLocationProblem(string location)
    {
        try
        {
            BlobCheckpointStore.Open(location, manifests.Account);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or UriFormatException)
        {
            return $"Checkpoint location: {e.Message} Give a container URL under {manifests.Account.Uri} (http(s)://account-endpoint/container[/prefix]).";
        }
    }

    /// <summary>What is wrong with the spec on its own, without asking storage or the cluster.</summary>
    public static IEnumerable<TrainingSubmissionProblem> ShapeProblems(TrainingRunSpec spec)
    {
        if (TrainingRunIds.Problem(spec.RunId) is { } runIdProblem) yield return new("runId", runIdProblem);
        if (string.IsNullOrWhiteSpace(spec.Dataset)) yield return new("dataset", "Name the dataset to train on.");
        else if (!DatasetNames.IsValid(spec.Dataset)) yield return new("dataset", DatasetNames.Invalid(spec.Dataset));
        if (PresetProblem(spec.Preset) is { } presetProblem) yield return new("preset", presetProblem);
        if (spec.Steps < 1) yield return new("steps", $"Steps must be at least 1, not {spec.Steps}.");
        if (spec.Devices < 1) yield return new("devices", $"Devices must be at least 1, not {spec.Devices}.");
        if (spec.DeviceKind is not null && !DeviceKinds.Contains(spec.DeviceKind))
            yield return new("deviceKind", $"Device kind '{spec.DeviceKind}' is not one of {string.Join(", ", DeviceKinds)} (leave it out for any kind).");
        // The optimiser and data settings are the Model library's to judge, as the one-process `platform train` has them judged.
        if (OptionsProblem(spec) is { } optionsProblem) yield return new("options", optionsProblem);
        if (DiLoCoProblem(spec) is { } diLoCoProblem) yield return new("trainers", diLoCoProblem);
        if (spec.ShuffleBuffer < 1) yield return new("shuffleBuffer", $"ShuffleBuffer must be at least 1, not {spec.ShuffleBuffer}.");
        if (spec.Retention.KeepLast < 0 || spec.Retention.KeepEvery < 0)
            yield return new("retention", "Retention's KeepLast and KeepEvery must not be negative.");
        foreach (var document in spec.TextDocuments.Where(d => !Path.IsPathFullyQualified(d) || !File.Exists(d)))
            yield return new("textDocuments", $"Text documents '{document}' is not an absolute path of an existing file on this host.");
        if (TokenizerProblem(spec.Tokenizer) is { } tokenizerProblem) yield return new("tokenizer", tokenizerProblem);
        if (spec.CheckpointLocation is { } location && !BlobCheckpointStore.IsBlobLocation(location) && !Path.IsPathFullyQualified(location))
            yield return new("checkpointLocation", $"Checkpoint location '{location}' must be an absolute path, on storage every silo can reach, or a blob container URL in the platform's storage account.");
        foreach (var evaluation in spec.Evaluations ?? [])
            if (EvaluationProblem(evaluation) is { } evaluationProblem) yield return new("evaluations", evaluationProblem);
    }

    private static string? PresetProblem(string? preset)
    {
        try
        {
            SimVlmConfig.Preset(preset ?? "");
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message.Split(" (Parameter", 2)[0];
        }
    }

    private static string? OptionsProblem(TrainingRunSpec spec)
    {
        try
        {
            new TrainingOptions
            {
                // Steps are judged above, with the field named.
                Steps = Math.Max(1, spec.Steps),
                SamplesPerStep = spec.SamplesPerStep,
                PeakLearningRate = spec.PeakLearningRate,
                WarmupSteps = spec.WarmupSteps,
                Precision = spec.Precision,
                ImageTextRatio = spec.ImageTextRatio,
                TextOnlyRatio = spec.TextOnlyRatio,
                CheckpointEvery = spec.CheckpointEvery,
                Threads = spec.Threads,
                PrefetchSteps = spec.Prefetch,
            }.Validate();
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }

    /// <summary>The DiLoCo settings are the Model library's to judge; a run of K trainers takes one device per trainer.</summary>
    private static string? DiLoCoProblem(TrainingRunSpec spec)
    {
        try
        {
            TrainingSpecMapping.DiLoCo(spec).Validate();
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
        if (spec.Trainers == 1) return null;
        if (spec.Devices != spec.Trainers)
            return $"A run of {spec.Trainers} trainers takes one device per trainer: give {spec.Trainers} devices or leave the device count out, not {spec.Devices}.";
        if (spec.Steps % spec.SyncEvery != 0)
            return $"A run of {spec.Trainers} trainers trains whole rounds: Steps ({spec.Steps}) must be a multiple of SyncEvery ({spec.SyncEvery}).";
        // A blob location takes the run's checkpoints and its rounds' exchange (DiLoCoExchange.LocationFor).
        return null;
    }

    private static string? TokenizerProblem(string? tokenizer)
    {
        if (tokenizer == TextTokenizer.Gpt2) return null;
        var prefix = TextTokenizer.SentencePiece + ":";
        if (tokenizer is not null && tokenizer.StartsWith(prefix, StringComparison.Ordinal))
        {
            var model = tokenizer[prefix.Length..];
            return Path.IsPathFullyQualified(model) && File.Exists(model)
                ? null
                : $"The SentencePiece model '{model}' is not an absolute path of an existing file on this host.";
        }
        return $"Unknown tokenizer '{tokenizer}'; expected '{TextTokenizer.Gpt2}' or '{prefix}PATH'.";
    }

    /// <summary>Whether the evaluation's task is known and its split's annotations and images can be read, as the evaluation grain will read them.</summary>
    public static string? EvaluationProblem(RunEvaluation evaluation)
    {
        EvaluationTask task;
        try
        {
            task = ResultsScoring.ParseTask(evaluation.Task);
        }
        catch (ArgumentException e)
        {
            return e.Message.Split(" (Parameter", 2)[0];
        }
        if (evaluation.BeamSize < 1) return $"Evaluation {evaluation.Task}: the beam size must be at least 1, not {evaluation.BeamSize}.";
        if (evaluation.MaxImages is < 1) return $"Evaluation {evaluation.Task}: MaxImages must be at least 1 when given, not {evaluation.MaxImages}.";
        if (evaluation.Device is not (null or RunEvaluation.OnCpu))
            return $"Evaluation {evaluation.Task}: device '{evaluation.Device}' is not '{RunEvaluation.OnCpu}' (leave it out to run on a device the scheduler lends).";
        var root = evaluation.DataRoot;
        if (string.IsNullOrWhiteSpace(root))
            return $"Evaluation {evaluation.Task} needs its data folder (the folder `platform benchmark-data --out DIR` writes).";
        if (!Path.IsPathFullyQualified(root)) return $"Evaluation {evaluation.Task}: the data folder '{root}' must be an absolute path.";
        try
        {
            if (!Directory.Exists(root)) return $"Evaluation {evaluation.Task}: cannot read the data folder '{root}': it does not exist.";
            ResultsScoring.CheckSplitReadable(task, root, evaluation.Split);
            var images = EvaluationDataLayout.FindImagesFolder(root, evaluation.Split);
            return Directory.Exists(images) ? null : $"Evaluation {evaluation.Task}: the data folder '{root}' has no images folder {images}.";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or JsonException or DatasetFormatException)
        {
            return $"Evaluation {evaluation.Task}: cannot read split '{evaluation.Split}' of the data folder '{root}': {e.Message}";
        }
    }

    private async Task CheckDatasetAsync(string dataset, List<TrainingSubmissionProblem> problems, CancellationToken cancellationToken)
    {
        try
        {
            // A dataset's manifest only exists once a shard is committed, so an unknown and an empty dataset look the same here.
            if ((await manifests.ReadAsync(dataset, cancellationToken)).Entries.Count == 0)
                problems.Add(new("dataset", $"Dataset '{dataset}' does not exist or has no committed shards."));
        }
        catch (Azure.RequestFailedException e)
        {
            problems.Add(new("dataset", $"Cannot read the manifest of dataset '{dataset}': {e.Message}"));
        }
    }

    /// <summary>A run takes all its devices of one kind, so it can never start when no kind has that many in the cluster.</summary>
    private async Task CheckDeviceCapacityAsync(TrainingRunSpec spec, List<TrainingSubmissionProblem> problems)
    {
        var devices = await grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices();
        var perKind = devices.GroupBy(d => d.Kind).ToDictionary(g => g.Key, g => g.Count());
        var offered = spec.DeviceKind is { } kind ? perKind.GetValueOrDefault(kind) : perKind.Values.DefaultIfEmpty(0).Max();
        if (offered >= spec.Devices) return;
        var asked = $"{spec.Devices} {(spec.DeviceKind is null ? "" : spec.DeviceKind + " ")}device{(spec.Devices == 1 ? "" : "s")}";
        var cluster = perKind.Count == 0 ? "no training devices" : string.Join(", ", perKind.OrderBy(p => p.Key).Select(p => $"{p.Value} {p.Key}"));
        problems.Add(new("devices", $"The run asks for {asked} of one kind, more than the cluster can ever offer: it has {cluster} (see `platform devices`)."));
    }

    /// <remarks>Lists become arrays: the spec crosses to grains, whose serializer knows arrays but not the compiler's own list types.</remarks>
    private static TrainingRunSpec Absolute(TrainingRunSpec spec, string? baseDirectory)
    {
        string Resolve(string path) =>
            string.IsNullOrWhiteSpace(path) ? path
            : Path.IsPathFullyQualified(path) ? Path.GetFullPath(path)
            : baseDirectory is null ? path : Path.GetFullPath(path, baseDirectory);
        var sentencePiece = TextTokenizer.SentencePiece + ":";
        return spec with
        {
            TextDocuments = (spec.TextDocuments ?? []).Select(Resolve).ToArray(),
            CheckpointLocation = spec.CheckpointLocation is null ? null
                : BlobCheckpointStore.IsBlobLocation(spec.CheckpointLocation) ? spec.CheckpointLocation.TrimEnd('/')
                : Resolve(spec.CheckpointLocation),
            // Null stays null: the scheduler gives such a run the default evaluations.
            Evaluations = spec.Evaluations?.Select(e => e with { DataRoot = Resolve(e.DataRoot ?? "") }).ToArray(),
            Tokenizer = spec.Tokenizer?.StartsWith(sentencePiece, StringComparison.Ordinal) == true
                ? sentencePiece + Resolve(spec.Tokenizer[sentencePiece.Length..])
                : spec.Tokenizer ?? "",
            Retention = spec.Retention ?? new CheckpointRetentionPolicy(),
            // A multi-trainer run that leaves the device count at its default of 1 takes one device per trainer.
            Devices = spec.Trainers > 1 && spec.Devices == 1 ? spec.Trainers : spec.Devices,
            SyncPrecision = spec.SyncPrecision ?? "",
        };
    }
}
