namespace Platform.Grains.Evaluation;

/// <summary>
/// Scores one checkpoint on one task (key: "{task}|{checkpoint folder}", made by the grains' <c>EvaluationKey</c>). Evaluation takes long,
/// so <see cref="Start"/> returns at once and callers poll <see cref="GetStatus"/>. Asking again
/// for a finished or running evaluation returns it as it is: nothing runs twice.
/// </summary>
public interface IEvaluationGrain : IGrainWithStringKey
{
    Task<EvaluationStatus> Start(EvaluationRequest request);

    Task<EvaluationStatus> GetStatus();
}

/// <summary>Where the task's data is and how to score; the checkpoint and task come from the grain key.</summary>
[GenerateSerializer, Immutable]
public sealed record EvaluationRequest
{
    /// <summary>Evaluation data folder, readable by every silo (see EvaluationDataLayout).</summary>
    [Id(0)] public required string DataRoot { get; init; }

    /// <summary>The training run the checkpoint came from, for the leaderboard; null names it after the checkpoint's run folder.</summary>
    [Id(1)] public string? RunId { get; init; }

    [Id(2)] public string Split { get; init; } = "test";

    /// <summary>Captioning prompt; the default is the evaluator's (a test holds the two equal).</summary>
    [Id(3)] public string Prompt { get; init; } = DefaultPrompt;

    [Id(4)] public int BeamSize { get; init; } = 1;

    /// <summary>Fine-tuning steps on the train split before scoring; null scores the checkpoint as it is.</summary>
    [Id(5)] public int? FineTuneSteps { get; init; }

    /// <summary>The default is the evaluator's (the paper's 5e-5; a test holds the two equal).</summary>
    [Id(6)] public double FineTuneLearningRate { get; init; } = DefaultFineTuneLearningRate;

    [Id(7)] public int? MaxImages { get; init; }

    /// <summary>
    /// A device the training scheduler lent for this evaluation: it runs on that device's silo, which renews the loan while
    /// it runs and returns it at the end. Null: on the CPU of the silo the evaluation grain is on.
    /// </summary>
    [Id(8)] public Platform.Grains.Training.DeviceLoan? Loan { get; init; }

    public const string DefaultPrompt = "A picture of";

    public const double DefaultFineTuneLearningRate = 5e-5;
}

public enum EvaluationPhase
{
    NotStarted,
    Running,
    Completed,
    Failed,
}

[GenerateSerializer, Immutable]
public sealed record EvaluationStatus(
    [property: Id(0)] EvaluationPhase Phase,
    [property: Id(1)] IReadOnlyDictionary<string, double> Scores,
    [property: Id(2)] string? PrimaryMetric,
    [property: Id(3)] double? PrimaryScore,
    [property: Id(4)] string OutputContainer,
    [property: Id(5)] IReadOnlyList<string> OutputBlobs,
    [property: Id(6)] string? Error,
    [property: Id(7)] DateTimeOffset? StartedAt,
    [property: Id(8)] DateTimeOffset? FinishedAt,
    [property: Id(9)] int Runs,
    [property: Id(10)] long Step,
    [property: Id(11)] string? RunId,
    [property: Id(12)] Platform.Grains.Devices.DeviceAddress? RanOn = null,
    [property: Id(13)] string? DataRoot = null,
    [property: Id(14)] string? Split = null);

/// <summary>
/// Runs one evaluation on a device the training scheduler lent it (key: <c>DevicePlacedKey.Format(device, evaluation key)</c>),
/// on that device's silo and nowhere else, renewing the loan while it runs and returning it at the end. The evaluation
/// grain calls it and keeps the result; a lost loan stops the evaluation, so a device is never used by an evaluation and
/// a trainer at once.
/// </summary>
public interface IEvaluationWorkerGrain : IGrainWithStringKey
{
    /// <summary>Scores the checkpoint and uploads the outputs; as long as the evaluation takes.</summary>
    [ResponseTimeout("2.00:00:00")]
    Task<EvaluationOutcome> Evaluate(EvaluationRequest request);
}

/// <summary>What one evaluation produced: the checkpoint's step, its scores, the output blobs and where it ran.</summary>
[GenerateSerializer, Immutable]
public sealed record EvaluationOutcome(
    [property: Id(0)] int Step,
    [property: Id(1)] IReadOnlyDictionary<string, double> Scores,
    [property: Id(2)] IReadOnlyList<string> OutputBlobs,
    [property: Id(3)] Platform.Grains.Devices.DeviceAddress RanOn);
