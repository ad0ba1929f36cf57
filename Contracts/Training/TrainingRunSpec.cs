namespace Platform.Grains.Training;

/// <summary>
/// What a training run asks for: its data, model and optimiser settings, the devices it needs, how it checkpoints and
/// which evaluations score each checkpoint. The defaults equal the Model library's <c>TrainingOptions</c> (a test holds
/// them equal); `platform train submit` and <c>POST /api/train/runs</c> fill it.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TrainingRunSpec
{
    /// <summary>The run's id: letters, digits, '.', '-' and '_' (see <see cref="TrainingRunIds"/>). Submitting the same id again finds the same run.</summary>
    [Id(0)] public required string RunId { get; init; }

    /// <summary>The dataset trained on, by name: its committed shards in manifest order (a folder or a blob container).</summary>
    [Id(1)] public required string Dataset { get; init; }

    /// <summary>Text-only documents (JSON lines with a "text" field, on storage every silo can read), mixed in by the text ratio.</summary>
    [Id(2)] public IReadOnlyList<string> TextDocuments { get; init; } = [];

    /// <summary>Model size: a <c>SimVlmConfig</c> preset name (tiny, base, ...).</summary>
    [Id(3)] public string Preset { get; init; } = "tiny";

    /// <summary>Optimiser steps of the whole run.</summary>
    [Id(4)] public int Steps { get; init; } = 1000;

    [Id(5)] public int SamplesPerStep { get; init; } = 18;

    [Id(6)] public double PeakLearningRate { get; init; } = 5e-4;

    [Id(7)] public int WarmupSteps { get; init; } = 100;

    /// <summary>auto (bf16 on CUDA, fp32 on the CPU), fp32 or bf16.</summary>
    [Id(8)] public string Precision { get; init; } = "auto";

    [Id(9)] public ulong Seed { get; init; } = 1;

    /// <summary>Image-text share of each step's samples, against <see cref="TextOnlyRatio"/> (the paper's 8:1).</summary>
    [Id(10)] public int ImageTextRatio { get; init; } = 8;

    [Id(11)] public int TextOnlyRatio { get; init; } = 1;

    /// <summary>Devices the run needs, allocated all together or not at all (gang allocation).</summary>
    [Id(12)] public int Devices { get; init; } = 1;

    /// <summary>`cpu` or `cuda`; null takes devices of any kind (all of one kind).</summary>
    [Id(13)] public string? DeviceKind { get; init; }

    /// <summary>Higher runs are placed first; equal priorities in submission order.</summary>
    [Id(14)] public int Priority { get; init; }

    /// <summary>Steps between checkpoints (a checkpoint is also saved at the end and when the run is paused); 0: only then.</summary>
    [Id(15)] public int CheckpointEvery { get; init; } = 100;

    /// <summary>
    /// The run's checkpoint folder, on storage every silo can read and write; null: <c>{Training:CheckpointRoot}/{RunId}</c>.
    /// </summary>
    [Id(16)] public string? CheckpointLocation { get; init; }

    /// <summary>Which checkpoints are kept once they are evaluated.</summary>
    [Id(17)] public CheckpointRetentionPolicy Retention { get; init; } = new();

    /// <summary>
    /// What scores each checkpoint; empty: none. Null (not said) takes the default, captioning and VQA zero-shot on the
    /// generated benchmark: the scheduler resolves it into that explicit list when it takes the run, so a stored spec
    /// always names its evaluations.
    /// </summary>
    [Id(18)] public IReadOnlyList<RunEvaluation>? Evaluations { get; init; }

    /// <summary>Subword model of the run: "gpt2" or "sentencepiece:PATH".</summary>
    [Id(19)] public string Tokenizer { get; init; } = "gpt2";

    /// <summary>CPU threads for libtorch; 0 leaves libtorch's default.</summary>
    [Id(20)] public int Threads { get; init; }

    /// <summary>Samples held in the shuffle buffer of the streaming data.</summary>
    [Id(21)] public int ShuffleBuffer { get; init; } = 1000;

    /// <summary>
    /// DiLoCo replicas (K): each trains on its own device and its own part of the data; 1 is an ordinary single-trainer
    /// run. The defaults of this and the other DiLoCo settings equal the Model library's <c>DiLoCoOptions</c>.
    /// </summary>
    [Id(22)] public int Trainers { get; init; } = 1;

    /// <summary>Local steps of each replica between synchronisations (DiLoCo's H).</summary>
    [Id(23)] public int SyncEvery { get; init; } = 500;

    /// <summary>Learning rate of the outer Nesterov step on the replicas' mean pseudo-gradient.</summary>
    [Id(24)] public double OuterLearningRate { get; init; } = 0.7;

    [Id(25)] public double OuterMomentum { get; init; } = 0.9;

    /// <summary>fp32 or bf16: the number format pseudo-gradients travel in.</summary>
    [Id(26)] public string SyncPrecision { get; init; } = "fp32";

    /// <summary>
    /// Steps whose batches a background thread of the trainer prepares ahead of the step (0: each step builds its own); the
    /// Model library's <c>TrainingOptions.PrefetchSteps</c>, with its default. The batches trained on are the same either way.
    /// </summary>
    [Id(27)] public int Prefetch { get; init; }
}

/// <summary>
/// Keeps the newest <see cref="KeepLast"/> checkpoints and every checkpoint whose step is a multiple of
/// <see cref="KeepEvery"/>; the latest checkpoint and any whose evaluations have not finished are always kept.
/// KeepLast 0 keeps every checkpoint.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record CheckpointRetentionPolicy
{
    [Id(0)] public int KeepLast { get; init; }

    [Id(1)] public int KeepEvery { get; init; }
}

/// <summary>One evaluation of every checkpoint of a run: a downstream task on a data folder every silo can read.</summary>
/// <param name="Task">`coco-captions`, `vqa`, `retrieval`, `snli-ve`, `nlvr2` or `nocaps` (the evaluation library's task names).</param>
/// <param name="DataRoot">The task's data folder (as `platform benchmark-data` writes it).</param>
/// <param name="Device">
/// Null: on a device the scheduler lends while no trainer needs it (the evaluation waits for one, never taking a
/// trainer's); <see cref="OnCpu"/>: on the CPU of any silo, without a device.
/// </param>
[GenerateSerializer, Immutable]
public sealed record RunEvaluation(
    [property: Id(0)] string Task,
    [property: Id(1)] string DataRoot,
    [property: Id(2)] string Split = "test",
    [property: Id(3)] string Prompt = "A picture of",
    [property: Id(4)] int BeamSize = 1,
    [property: Id(5)] int? MaxImages = null,
    [property: Id(6)] string? Device = null)
{
    public const string OnCpu = "cpu";
}

/// <summary>Run id rules, shared by the CLI, the API and the grains.</summary>
public static class TrainingRunIds
{
    public const int MaxLength = 100;

    /// <summary>Null when <paramref name="runId"/> is a valid run id, else why not.</summary>
    public static string? Problem(string? runId)
    {
        if (string.IsNullOrEmpty(runId)) return "A run id must not be empty.";
        if (runId.Length > MaxLength) return $"Run id '{runId[..20]}...' is longer than {MaxLength} characters.";
        if (runId is "." or "..") return $"Run id '{runId}' is not allowed.";
        foreach (char c in runId)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
                return $"Run id '{runId}' may hold only ASCII letters, digits, '.', '-' and '_'.";
        return null;
    }
}
