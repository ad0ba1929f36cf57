using Platform.Grains.Evaluation;

namespace Platform.Grains.Training;

/// <summary>
/// One training run's record (key: run id): its spec, a bounded history of its steps' metrics, its checkpoints and
/// their evaluations. Trainers report here; each checkpoint is handed to the <see cref="IEvaluationGrain"/> of every
/// evaluation the run names (once: evaluation grains are keyed by checkpoint and task), and kept or deleted by the
/// run's retention policy once evaluated. Reports carry the trainer's attempt: those of an attempt older than the
/// newest one started are refused, so a superseded trainer changes nothing.
/// </summary>
public interface ITrainingRunGrain : IGrainWithStringKey
{
    /// <summary>Called by the scheduler when it takes the run; the same spec again changes nothing.</summary>
    Task Register(TrainingRunSpec spec, string checkpointLocation);

    /// <summary>
    /// A trainer attempt has loaded the run at <paramref name="fromStep"/> (0 for a fresh start, else its latest
    /// checkpoint's step): history past that step is dropped, since the attempt redoes those steps. False when a newer
    /// attempt has started (the caller must stop).
    /// </summary>
    Task<bool> AttemptStarted(int attempt, int fromStep, string worker);

    /// <summary>Steps' metrics in step order. False when the attempt was superseded.</summary>
    Task<bool> ReportSteps(int attempt, IReadOnlyList<TrainingStepRecord> steps);

    /// <summary>
    /// A checkpoint of <paramref name="step"/> is complete in <paramref name="folder"/>; every step up to it has been
    /// reported. Starts its evaluations. False when the attempt was superseded.
    /// </summary>
    Task<bool> ReportCheckpoint(int attempt, int step, string folder);

    /// <summary>The run's full status: the scheduler's summary, progress, history, checkpoints and evaluation curve.</summary>
    Task<TrainingRunStatus> GetStatus();

    /// <summary>
    /// A multi-trainer run's rounds as its coordinator last told the attempt's trainer, which passes them on here. False when
    /// the attempt was superseded. Readers ask this record, never the coordinator, so a status read cannot activate the
    /// coordinator on a silo of the reader's choosing.
    /// </summary>
    Task<bool> ReportDiLoCo(int attempt, DiLoCoStatus status);

    /// <summary>
    /// The rounds <see cref="ReportDiLoCo"/> last passed on; before the first report, <see cref="DiLoCoStatus.NotReportedYet"/>;
    /// null for a single-trainer run (or one not registered).
    /// </summary>
    Task<DiLoCoStatus?> GetDiLoCoStatus();
}

/// <summary>One optimiser step's metrics, as a trainer reports them; ValidationLoss only after the steps that validate.</summary>
/// <param name="ModelTokens">Image and text positions the step trained (a multi-trainer run's step: every replica's together); 0 from a record saved before it was kept.</param>
[GenerateSerializer, Immutable]
public sealed record TrainingStepRecord(
    [property: Id(0)] int Step,
    [property: Id(1)] double Loss,
    [property: Id(2)] double LearningRate,
    [property: Id(3)] double GradientNorm,
    [property: Id(4)] double TokensPerSecond,
    [property: Id(5)] double? Mfu,
    [property: Id(6)] double StepSeconds,
    [property: Id(7)] double DataSeconds,
    [property: Id(8)] double ForwardSeconds,
    [property: Id(9)] double BackwardSeconds,
    [property: Id(10)] double OptimizerSeconds,
    [property: Id(11)] DateTimeOffset FinishedAt,
    [property: Id(12)] double? ValidationLoss = null,
    [property: Id(13)] long ModelTokens = 0);

/// <summary>A checkpoint of a run; <see cref="Deleted"/> once the retention policy removed its folder.</summary>
[GenerateSerializer, Immutable]
public sealed record RunCheckpoint(
    [property: Id(0)] int Step,
    [property: Id(1)] string Folder,
    [property: Id(2)] DateTimeOffset SavedAt,
    [property: Id(3)] bool Deleted);

/// <summary>One evaluation of one checkpoint: a point on the run's evaluation curve.</summary>
/// <param name="WaitingReason">Why an evaluation not started yet waits (no device free to lend); null otherwise.</param>
/// <param name="RanOn">The device (`cpu` for a silo's CPU without a device) and silo it runs or ran on.</param>
[GenerateSerializer, Immutable]
public sealed record RunEvaluationResult(
    [property: Id(0)] int Step,
    [property: Id(1)] string Task,
    [property: Id(2)] EvaluationPhase Phase,
    [property: Id(3)] string? PrimaryMetric,
    [property: Id(4)] double? PrimaryScore,
    [property: Id(5)] string? Error,
    [property: Id(6)] string? WaitingReason = null,
    [property: Id(7)] Platform.Grains.Devices.DeviceAddress? RanOn = null);

/// <param name="Run">The scheduler's summary (phase, devices, queue reason, attempt).</param>
/// <param name="Latest">The newest step's metrics; null before the first step.</param>
/// <param name="History">
/// Compacted: every step of the recent window, downsampled before it; ascending steps, bounded in size however long the run.
/// </param>
/// <param name="Eta">Time left at the recent step rate; null when not running or no step is known.</param>
[GenerateSerializer, Immutable]
public sealed record TrainingRunStatus(
    [property: Id(0)] TrainingRunSummary Run,
    [property: Id(1)] TrainingRunSpec Spec,
    [property: Id(2)] string CheckpointLocation,
    [property: Id(3)] TrainingStepRecord? Latest,
    [property: Id(4)] IReadOnlyList<TrainingStepRecord> History,
    [property: Id(5)] IReadOnlyList<RunCheckpoint> Checkpoints,
    [property: Id(6)] IReadOnlyList<RunEvaluationResult> Evaluations,
    [property: Id(7)] TimeSpan? Eta,
    [property: Id(8)] string? Worker);
