using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;
using Platform.Grains.Devices;
using Platform.Grains.Evaluation;
using Platform.Model.Evaluation;
using Platform.Model.Training;

namespace Platform.Grains.Training;

[GenerateSerializer]
public sealed class TrainingRunState
{
    [Id(0)] public TrainingRunSpec? Spec { get; set; }
    [Id(1)] public string CheckpointLocation { get; set; } = "";
    [Id(2)] public DateTimeOffset RegisteredAt { get; set; }
    /// <summary>The newest attempt that called AttemptStarted: the only one whose reports count.</summary>
    [Id(3)] public int Attempt { get; set; }
    [Id(4)] public string? Worker { get; set; }
    /// <summary>The step the current attempt started from.</summary>
    [Id(5)] public int FromStep { get; set; }
    /// <summary><see cref="StepHistory.Points"/> and <see cref="StepHistory.Stride"/>, as last written.</summary>
    [Id(6)] public List<TrainingStepRecord> History { get; set; } = [];
    [Id(7)] public int HistoryStride { get; set; } = 1;
    [Id(8)] public List<RunCheckpoint> Checkpoints { get; set; } = [];
    [Id(9)] public List<CheckpointEvaluationState> Evaluations { get; set; } = [];
    /// <summary>A multi-trainer run's rounds, as last written: at each round's end, so the finished run's rounds outlive it.</summary>
    [Id(10)] public DiLoCoStatus? DiLoCo { get; set; }
}

/// <summary>One evaluation of one checkpoint as the run last saw it; <see cref="Started"/> is what makes the hand-off happen once.</summary>
[GenerateSerializer]
public sealed class CheckpointEvaluationState
{
    [Id(0)] public int Step { get; set; }
    [Id(1)] public string Task { get; set; } = "";
    [Id(2)] public bool Started { get; set; }
    [Id(3)] public EvaluationPhase Phase { get; set; }
    [Id(4)] public string? PrimaryMetric { get; set; }
    [Id(5)] public double? PrimaryScore { get; set; }
    [Id(6)] public string? Error { get; set; }
    /// <summary>Why it has not started: no device could be lent to it yet.</summary>
    [Id(7)] public string? WaitingReason { get; set; }
    [Id(8)] public DeviceAddress? RanOn { get; set; }

    public bool IsFinished => Started && Phase is EvaluationPhase.Completed or EvaluationPhase.Failed;
}

/// <summary>
/// The record of one training run (see <see cref="ITrainingRunGrain"/>). Step reports arrive every half second or so,
/// so they are written at most once per <see cref="StepWriteInterval"/>; attempt starts and checkpoints are written at
/// once, so the durable history always covers every step up to the latest checkpoint, which is where a lost attempt's
/// successor resumes (and where an attempt whose unwritten steps an activation lost is made to resume). A timer follows the evaluations it started and deletes the checkpoints the retention policy no
/// longer needs, off the grain scheduler.
/// </summary>
[MayInterleave(nameof(CanInterleave))]
public sealed class TrainingRunGrain(
    [PersistentState("trainingrun", PlatformStorage.GrainStateProvider)] IPersistentState<TrainingRunState> state,
    IOptions<TrainingClusterOptions> options,
    BlobServiceClient blobs,
    ILogger<TrainingRunGrain> logger) : Grain, ITrainingRunGrain
{
    public static readonly TimeSpan StepWriteInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan HousekeepingInterval = TimeSpan.FromSeconds(3);
    /// <summary>How long the scheduler may take to say where the run stands before a status goes without it.</summary>
    private static readonly TimeSpan SchedulerAnswerTimeout = TimeSpan.FromSeconds(5);
    /// <summary>Recent steps the ETA's step rate is measured over.</summary>
    private const int RateWindow = 50;
    /// <summary>
    /// Deleted checkpoints whose record is kept, the newest: with a checkpoint every 100 steps by default, keeping every record would
    /// grow the state by one row per checkpoint for the whole run, toward Azure Table's 1 MB entity limit. Their evaluation results stay.
    /// </summary>
    public const int DeletedCheckpointsKept = 20;

    private StepHistory _history = null!;
    private DateTimeOffset _lastWrite = DateTimeOffset.MinValue;
    private bool _unwrittenSteps;
    private DiLoCoStatus? _diLoCo;

    /// <summary>
    /// The scheduler calls Register from inside Submit while this grain may be waiting on the scheduler (a timer asking
    /// to borrow a device for an evaluation), and a status read may need the scheduler too: both interleave, so neither
    /// is a deadlock. A status read only reads; a Register of the registered spec only compares, and the first Register
    /// comes before anything else can run here (every other call needs the spec).
    /// </summary>
    public static bool CanInterleave(IInvokable request) => request.GetMethodName() is nameof(GetStatus) or nameof(Register) or nameof(GetDiLoCoStatus);

    private string RunId => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _history = new StepHistory(options.Value.HistoryRecentSteps, options.Value.HistoryOlderPoints, state.State.History, state.State.HistoryStride);
        this.RegisterGrainTimer(HousekeepAsync, new GrainTimerCreationOptions(HousekeepingInterval, HousekeepingInterval));
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_unwrittenSteps) await WriteAsync();
    }

    public async Task Register(TrainingRunSpec spec, string checkpointLocation)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrWhiteSpace(checkpointLocation);
        if (spec.RunId != RunId) throw new ArgumentException($"The spec names run '{spec.RunId}', but this is run '{RunId}'.", nameof(spec));
        if (state.State.Spec is { } registered)
        {
            if (!SameSpec(registered, spec) || registered.CheckpointLocation != spec.CheckpointLocation || state.State.CheckpointLocation != checkpointLocation)
                throw new ArgumentException($"Run '{RunId}' is already registered with a different spec (or checkpoint location); submit the changed run under another id.");
            return;
        }
        state.State.Spec = spec;
        state.State.CheckpointLocation = checkpointLocation;
        state.State.RegisteredAt = DateTimeOffset.UtcNow;
        await WriteAsync();
    }

    public async Task<bool> AttemptStarted(int attempt, int fromStep, string worker)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(fromStep);
        RequireRegistered();
        if (attempt < state.State.Attempt) return false;
        if (attempt == state.State.Attempt) return true; // a retried call: its steps may already be here
        state.State.Attempt = attempt;
        state.State.FromStep = fromStep;
        state.State.Worker = worker;
        _history.TruncateAfter(fromStep);
        RecordCheckpointResumedFrom(fromStep);
        await WriteAsync();
        await StartEvaluationsAsync();
        return true;
    }

    /// <summary>
    /// A lost attempt can save a checkpoint and die before reporting it; its successor resumes from it, so the run
    /// learns of it here and evaluates it like any other.
    /// </summary>
    private void RecordCheckpointResumedFrom(int step)
    {
        // A trainer of a blob location resumes only from a checkpoint this record accepted, so there is nothing to learn.
        if (step == 0 || IsBlobLocation || state.State.Checkpoints.Exists(c => c.Step == step && !c.Deleted)) return;
        string folder = Path.Combine(state.State.CheckpointLocation, Checkpoint.FolderName(step));
        if (Directory.Exists(folder)) RecordCheckpoint(step, folder);
    }

    public async Task<bool> ReportSteps(int attempt, IReadOnlyList<TrainingStepRecord> steps)
    {
        if (!IsCurrent(attempt)) return false;
        // Steps that an activation took and died before writing are lost, and the attempt cannot send them again: it is
        // refused as if superseded, and its successor redoes them from the latest checkpoint, up to which the durable
        // history is complete. Without this, the history would skip them.
        if (steps.Count > 0 && steps[0].Step > Math.Max(_history.Latest?.Step ?? 0, state.State.FromStep) + 1) return false;
        _history.Add(steps);
        _unwrittenSteps = true;
        // A multi-trainer run's coordinator reports a whole round at once and keeps no copy (its outer step follows): the
        // steps are durable before the report is taken, so a record that loses its activation never misses a round's.
        if (state.State.Spec!.Trainers > 1 || DateTimeOffset.UtcNow - _lastWrite >= StepWriteInterval) await WriteAsync();
        return true;
    }

    public async Task<bool> ReportCheckpoint(int attempt, int step, string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (!IsCurrent(attempt)) return false;
        RecordCheckpoint(step, folder);
        await WriteAsync();
        await StartEvaluationsAsync();
        await ApplyRetentionAsync();
        return true;
    }

    /// <summary>Records a checkpoint and the evaluations it is owed; a step already recorded stays as it is.</summary>
    private void RecordCheckpoint(int step, string folder)
    {
        folder = BlobCheckpointStore.IsBlobLocation(folder) ? folder.TrimEnd('/') : Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        int known = state.State.Checkpoints.FindIndex(c => c.Step == step);
        if (known < 0) state.State.Checkpoints.Add(new RunCheckpoint(step, folder, DateTimeOffset.UtcNow, Deleted: false));
        else if (state.State.Checkpoints[known].Deleted)
            // Saved again by an attempt that redid the step after the retention policy deleted it.
            state.State.Checkpoints[known] = state.State.Checkpoints[known] with { Folder = folder, SavedAt = DateTimeOffset.UtcNow, Deleted = false };
        state.State.Checkpoints.Sort((a, b) => a.Step.CompareTo(b.Step));
        foreach (var evaluation in state.State.Spec!.Evaluations ?? [])
            if (!state.State.Evaluations.Exists(e => e.Step == step && e.Task == evaluation.Task))
                state.State.Evaluations.Add(new CheckpointEvaluationState { Step = step, Task = evaluation.Task });
    }

    public async Task<TrainingRunStatus> GetStatus()
    {
        var spec = RequireRegistered();
        var summary = await SchedulerSummaryAsync(spec);
        var curve = new List<RunEvaluationResult>();
        foreach (var evaluation in state.State.Evaluations.ToArray())
        {
            var (phase, metric, score, error, ranOn) = (evaluation.Phase, evaluation.PrimaryMetric, evaluation.PrimaryScore, evaluation.Error, evaluation.RanOn);
            if (evaluation.Started && !evaluation.IsFinished && CheckpointFolder(evaluation.Step) is { } folder)
            {
                try
                {
                    var status = await EvaluationGrain(folder, evaluation.Task).GetStatus();
                    (phase, metric, score, error, ranOn) = (status.Phase, status.PrimaryMetric, status.PrimaryScore, status.Error, status.RanOn);
                }
                catch (Exception e)
                {
                    // The last state the timer saw answers instead: a status read should not fail for one evaluation.
                    logger.LogDebug(e, "Run {RunId}: no status from the {Task} evaluation of step {Step}", RunId, evaluation.Task, evaluation.Step);
                }
            }
            curve.Add(new RunEvaluationResult(evaluation.Step, evaluation.Task, phase, metric, score, error, evaluation.Started ? null : evaluation.WaitingReason, ranOn));
        }
        var history = _history.Points.ToArray();
        return new TrainingRunStatus(
            summary, spec, state.State.CheckpointLocation, _history.Latest, history, state.State.Checkpoints.ToArray(),
            curve.OrderBy(r => r.Step).ThenBy(r => r.Task, StringComparer.Ordinal).ToArray(),
            summary.Phase == TrainingRunPhase.Running ? Eta(history, state.State.FromStep, spec.Steps) : null, state.State.Worker);
    }

    public async Task<bool> ReportDiLoCo(int attempt, DiLoCoStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (!IsCurrent(attempt)) return false;
        var written = state.State.DiLoCo;
        _diLoCo = status;
        // Replica progress changes every heartbeat and is worth only the memory; what a round or the run's end changes is written.
        if (written is null || written.Round != status.Round || written.Finished != status.Finished || written.Error != status.Error || written.Attempt != status.Attempt)
        {
            state.State.DiLoCo = status;
            await WriteAsync();
        }
        return true;
    }

    public Task<DiLoCoStatus?> GetDiLoCoStatus() =>
        Task.FromResult(_diLoCo ?? state.State.DiLoCo ?? (state.State.Spec is { Trainers: > 1 } spec ? DiLoCoStatus.NotReportedYet(spec) : null));

    private TrainingRunSpec RequireRegistered() =>
        state.State.Spec ?? throw new InvalidOperationException($"Training run '{RunId}' is not registered: the scheduler registers a run when it is submitted.");

    private bool IsCurrent(int attempt)
    {
        RequireRegistered();
        if (attempt > state.State.Attempt)
            throw new InvalidOperationException($"Run '{RunId}': attempt {attempt} reported before it called AttemptStarted (the current attempt is {state.State.Attempt}).");
        return attempt == state.State.Attempt;
    }

    /// <summary>Lists are compared by content: two deserialised copies of one spec are different list objects.</summary>
    private static bool SameSpec(TrainingRunSpec a, TrainingRunSpec b) =>
        a with { TextDocuments = [], Evaluations = [] } == b with { TextDocuments = [], Evaluations = [] }
        && a.TextDocuments.SequenceEqual(b.TextDocuments)
        && (a.Evaluations is null) == (b.Evaluations is null) && (a.Evaluations ?? []).SequenceEqual(b.Evaluations ?? []);

    private async Task WriteAsync()
    {
        ForgetOldDeletedCheckpoints();
        state.State.History = [.. _history.Points];
        state.State.HistoryStride = _history.Stride;
        await state.WriteStateAsync();
        _lastWrite = DateTimeOffset.UtcNow;
        _unwrittenSteps = false;
    }

    /// <summary>Drops the records of deleted checkpoints older than the newest <see cref="DeletedCheckpointsKept"/>; no evaluation still needs them (retention deletes only evaluated ones).</summary>
    private void ForgetOldDeletedCheckpoints()
    {
        var deleted = state.State.Checkpoints.Where(c => c.Deleted).ToList();
        if (deleted.Count <= DeletedCheckpointsKept) return;
        var unfinished = state.State.Evaluations.Where(e => !e.IsFinished).Select(e => e.Step).ToHashSet();
        var forgotten = deleted.OrderBy(c => c.Step).Take(deleted.Count - DeletedCheckpointsKept).Where(c => !unfinished.Contains(c.Step)).ToHashSet();
        state.State.Checkpoints.RemoveAll(forgotten.Contains);
    }

    private async Task<TrainingRunSummary> SchedulerSummaryAsync(TrainingRunSpec spec)
    {
        string reason;
        try
        {
            var summary = await GrainFactory.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key).Get(RunId).WaitAsync(SchedulerAnswerTimeout);
            if (summary is not null) return summary;
            reason = "the scheduler has no record of this run";
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: the scheduler did not say where the run stands", RunId);
            reason = $"the scheduler did not answer ({e.GetType().Name})";
        }
        return new TrainingRunSummary(
            RunId, TrainingRunPhase.Queued, spec.Priority, SubmissionOrder: 0, spec.Devices, spec.DeviceKind, Devices: [], reason,
            state.State.Attempt, _history.Latest?.Step ?? 0, spec.Steps, Error: null, state.State.RegisteredAt, StartedAt: null, FinishedAt: null);
    }

    /// <summary>
    /// Steps left at the rate of the current attempt's recent steps (an earlier attempt's pace, on another device perhaps,
    /// says little); null until the attempt has two steps to time.
    /// </summary>
    public static TimeSpan? Eta(IReadOnlyList<TrainingStepRecord> history, int attemptFromStep, int steps)
    {
        var recent = history.Where(p => p.Step > attemptFromStep).TakeLast(RateWindow).ToArray();
        if (recent.Length < 2) return null;
        double seconds = (recent[^1].FinishedAt - recent[0].FinishedAt).TotalSeconds;
        if (seconds <= 0) return null;
        double stepsPerSecond = (recent[^1].Step - recent[0].Step) / seconds;
        return TimeSpan.FromSeconds(Math.Max(0, steps - recent[^1].Step) / stepsPerSecond);
    }

    private string? CheckpointFolder(int step) => state.State.Checkpoints.Find(c => c.Step == step)?.Folder;

    private IEvaluationGrain EvaluationGrain(string folder, string task) =>
        GrainFactory.GetGrain<IEvaluationGrain>(EvaluationKey.For(folder, ResultsScoring.ParseTask(task)));

    /// <summary>
    /// Hands each checkpoint to the evaluations not yet started for it, oldest checkpoint first; a failed hand-off is tried
    /// again on the next tick. An evaluation on a device starts only with a device the scheduler lends it, and otherwise
    /// waits (its status says why) rather than run beside a trainer.
    /// </summary>
    private async Task StartEvaluationsAsync()
    {
        var spec = state.State.Spec!;
        bool changed = false;
        string? noDeviceNow = null;
        var unstarted = state.State.Evaluations.Where(e => !e.Started).OrderBy(e => e.Step).ToArray();
        if (unstarted.Length == 0) return;
        // A cancelled run starts no more evaluations: they would take the devices its cancellation freed, one per checkpoint
        // it saved, for checkpoints its owner gave up on. Evaluations already running finish.
        if (await RunPhaseOrNullAsync() is TrainingRunPhase.Cancelling or TrainingRunPhase.Cancelled)
        {
            foreach (var evaluation in unstarted)
            {
                evaluation.Started = true;
                evaluation.Phase = EvaluationPhase.Failed;
                evaluation.WaitingReason = null;
                evaluation.Error = "not evaluated: the run was cancelled before this evaluation started";
            }
            await WriteAsync();
            return;
        }
        foreach (var evaluation in unstarted)
        {
            var settings = (spec.Evaluations ?? []).FirstOrDefault(e => e.Task == evaluation.Task);
            if (settings is null || CheckpointFolder(evaluation.Step) is not { } folder) continue;
            DeviceLoan? loan = null;
            try
            {
                if (settings.Device != RunEvaluation.OnCpu)
                {
                    // One refusal answers for the rest of this round: nothing was freed in between.
                    if (noDeviceNow is null)
                    {
                        var answer = await Scheduler.LendDevice(Borrower(evaluation));
                        (loan, noDeviceNow) = (answer.Loan, answer.Loan is null ? answer.WaitingReason ?? "no device is free" : null);
                    }
                    if (loan is null)
                    {
                        var waiting = $"waits for a device: {noDeviceNow}";
                        changed |= evaluation.WaitingReason != waiting;
                        evaluation.WaitingReason = waiting;
                        continue;
                    }
                }
                var status = await EvaluationGrain(folder, evaluation.Task).Start(new EvaluationRequest
                {
                    DataRoot = settings.DataRoot, RunId = RunId, Split = settings.Split, Prompt = settings.Prompt,
                    BeamSize = settings.BeamSize, MaxImages = settings.MaxImages, Loan = loan,
                });
                evaluation.Started = true;
                evaluation.WaitingReason = null;
                Observe(evaluation, status);
                // Started before (by a record that lost its state since): the evaluation runs without this loan.
                if (loan is not null && !(status.Phase == EvaluationPhase.Running && status.RanOn == loan.Device)) await ReturnQuietlyAsync(loan);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Run {RunId}: could not start the {Task} evaluation of step {Step}", RunId, evaluation.Task, evaluation.Step);
                evaluation.Error = e.Message;
                if (loan is not null) await ReturnQuietlyAsync(loan);
            }
            changed = true;
        }
        if (changed) await WriteAsync();
    }

    /// <summary>The run's phase as the scheduler has it; null when the scheduler cannot answer now (asked again next time).</summary>
    private async Task<TrainingRunPhase?> RunPhaseOrNullAsync()
    {
        try
        {
            return (await Scheduler.Get(RunId))?.Phase;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Run {RunId}: could not ask the scheduler for the run's phase", RunId);
            return null;
        }
    }

    /// <summary>How the allocation table names an evaluation that borrows a device.</summary>
    private string Borrower(CheckpointEvaluationState evaluation) => $"eval:{RunId}@{evaluation.Step}/{evaluation.Task}";

    private ITrainingSchedulerGrain Scheduler => GrainFactory.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);

    private async Task ReturnQuietlyAsync(DeviceLoan loan)
    {
        try
        {
            await Scheduler.ReturnDevice(loan.Borrower);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: could not return {Device} lent to {Borrower}; the loan expires unrenewed", RunId, loan.Device, loan.Borrower);
        }
    }

    private static void Observe(CheckpointEvaluationState evaluation, EvaluationStatus status)
    {
        evaluation.Phase = status.Phase;
        evaluation.PrimaryMetric = status.PrimaryMetric;
        evaluation.PrimaryScore = status.PrimaryScore;
        evaluation.Error = status.Error;
        evaluation.RanOn = status.RanOn;
    }

    private async Task HousekeepAsync(CancellationToken cancellationToken)
    {
        if (state.State.Spec is null) return;
        if (_unwrittenSteps && DateTimeOffset.UtcNow - _lastWrite >= StepWriteInterval) await WriteAsync();
        await StartEvaluationsAsync();
        bool changed = false;
        foreach (var evaluation in state.State.Evaluations.Where(e => e.Started && !e.IsFinished).ToArray())
        {
            if (CheckpointFolder(evaluation.Step) is not { } folder) continue;
            var before = (evaluation.Phase, evaluation.PrimaryScore, evaluation.Error);
            Observe(evaluation, await EvaluationGrain(folder, evaluation.Task).GetStatus());
            changed |= before != (evaluation.Phase, evaluation.PrimaryScore, evaluation.Error);
        }
        if (changed)
        {
            EvaluationCurve.Thin(state.State.Evaluations);
            await WriteAsync();
        }
        await ApplyRetentionAsync();
        // The evaluations' results and the deletions they allow arrive only while this timer runs.
        if (state.State.Evaluations.Exists(e => !e.IsFinished)) DelayDeactivation(TimeSpan.FromMinutes(2));
    }

    /// <summary>
    /// Deletes the checkpoints the retention policy gives up; never the one the run folder's "latest" names, whatever
    /// this record says. A folder that cannot be deleted now is tried again on the next tick.
    /// </summary>
    private async Task ApplyRetentionAsync()
    {
        var spec = state.State.Spec!;
        var live = state.State.Checkpoints.Where(c => !c.Deleted).ToArray();
        if (live.Length == 0) return;
        var unfinished = state.State.Evaluations.Where(e => !e.IsFinished).Select(e => e.Step).ToHashSet();
        var doomed = CheckpointRetention.StepsToDelete(live.Select(c => c.Step), spec.Retention.KeepLast, spec.Retention.KeepEvery, live.Max(c => c.Step), unfinished);
        if (doomed.Count == 0) return;
        string location = state.State.CheckpointLocation;
        if (IsBlobLocation)
        {
            await DeleteBlobCheckpointsAsync(doomed);
            return;
        }
        string? onDiskLatest = await Task.Run(() => LatestOnDisk(location));
        bool changed = false;
        foreach (int step in doomed)
        {
            var checkpoint = state.State.Checkpoints.Find(c => c.Step == step)!;
            if (onDiskLatest is not null && Path.TrimEndingDirectorySeparator(Path.GetFullPath(onDiskLatest)) == checkpoint.Folder) continue;
            try
            {
                await Task.Run(() =>
                {
                    if (Directory.Exists(checkpoint.Folder)) Directory.Delete(checkpoint.Folder, recursive: true);
                });
                state.State.Checkpoints[state.State.Checkpoints.IndexOf(checkpoint)] = checkpoint with { Deleted = true };
                changed = true;
                logger.LogInformation("Run {RunId}: deleted checkpoint {Folder} (retention)", RunId, checkpoint.Folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogWarning(e, "Run {RunId}: could not delete checkpoint {Folder}; trying again later", RunId, checkpoint.Folder);
            }
        }
        if (changed) await WriteAsync();
    }

    private bool IsBlobLocation => BlobCheckpointStore.IsBlobLocation(state.State.CheckpointLocation);

    /// <summary>As for a folder, with the container's "latest" in place of the folder's; a failed delete is tried again on the next tick.</summary>
    private async Task DeleteBlobCheckpointsAsync(IReadOnlyList<int> doomed)
    {
        bool changed = false;
        try
        {
            var store = BlobCheckpointStore.Open(state.State.CheckpointLocation, blobs);
            int? latest = await store.LatestStepAsync(CancellationToken.None);
            foreach (int step in doomed)
            {
                if (step == latest) continue;
                var checkpoint = state.State.Checkpoints.Find(c => c.Step == step)!;
                await store.DeleteAsync(step, CancellationToken.None);
                state.State.Checkpoints[state.State.Checkpoints.IndexOf(checkpoint)] = checkpoint with { Deleted = true };
                changed = true;
                logger.LogInformation("Run {RunId}: deleted checkpoint {Folder} (retention)", RunId, checkpoint.Folder);
            }
        }
        catch (RequestFailedException e)
        {
            logger.LogWarning(e, "Run {RunId}: could not delete checkpoints in {Location}; trying again later", RunId, state.State.CheckpointLocation);
        }
        if (changed) await WriteAsync();
    }

    private static string? LatestOnDisk(string location)
    {
        try
        {
            return Checkpoint.Latest(location);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
