using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Storage;
using Platform.Grains.Devices;
using Platform.Grains.Work;
using Platform.Model.Training;

namespace Platform.Grains.Training;

/// <summary>
/// Durable and small: one row per run not yet finished (queued, running, paused), the count of submissions, and the head of the
/// archive of finished runs, which are stored beside the state (<see cref="RowArchive{TRow}"/>), so the state does not grow with
/// every run ever submitted.
/// </summary>
[GenerateSerializer]
public sealed class TrainingSchedulerState
{
    [Id(0)] public List<TrainingRunRecord> Runs { get; set; } = [];
    /// <summary>Runs ever submitted; a run's <see cref="WorkItem.Index"/> is the count before it, so no index is used twice.</summary>
    [Id(1)] public long Submissions { get; set; }
    /// <summary>Devices lent to evaluations, by borrower: in the allocation table beside the runs' devices.</summary>
    [Id(2)] public List<DeviceLoanRecord> Loans { get; set; } = [];
    /// <summary>The finished runs' archive; absent in a state stored before finished runs left it, whose finished rows move there at activation.</summary>
    [Id(3)] public RowArchiveHead FinishedRuns { get; set; } = new();
}

/// <summary>A device lent to an evaluation; its lease lives in the scheduler's memory (renewed by the borrower, fresh after a reactivation).</summary>
[GenerateSerializer]
public sealed class DeviceLoanRecord
{
    [Id(0)] public string Borrower { get; set; } = "";
    [Id(1)] public DeviceAddress Device { get; set; } = null!;
    [Id(2)] public DateTimeOffset LentAt { get; set; }
}

/// <summary>A run's row: in the scheduler's queue and, as a <see cref="WorkItem"/>, in its work table of trainer attempts.</summary>
[GenerateSerializer]
public sealed class TrainingRunRecord : WorkItem
{
    [Id(0)] public TrainingRunSpec Spec { get; set; } = null!;
    [Id(1)] public TrainingRunPhase Phase { get; set; }
    [Id(2)] public long SubmissionOrder { get; set; }
    /// <summary>The devices the current attempt holds; empty unless running, pausing or cancelling.</summary>
    [Id(3)] public List<DeviceAddress> Devices { get; set; } = [];
    /// <summary>Failed or lost attempts so far, against <see cref="TrainingClusterOptions.MaxFailures"/>.</summary>
    [Id(4)] public int Failures { get; set; }
    [Id(5)] public string? WaitingReason { get; set; }
    /// <summary>The run lost its devices and waits at the front of the queue.</summary>
    [Id(6)] public bool Requeued { get; set; }
    [Id(7)] public string CheckpointLocation { get; set; } = "";
    [Id(8)] public int Step { get; set; }
    [Id(9)] public string? Error { get; set; }
    [Id(10)] public DateTimeOffset SubmittedAt { get; set; }
    [Id(11)] public DateTimeOffset? StartedAt { get; set; }
    [Id(12)] public DateTimeOffset? FinishedAt { get; set; }

    public string RunId => Spec.RunId;

    /// <summary>A trainer attempt holds devices: it runs, or is asked to pause or cancel.</summary>
    public bool HoldsDevices => Phase is TrainingRunPhase.Running or TrainingRunPhase.Pausing or TrainingRunPhase.Cancelling;

    public bool IsActive => Phase == TrainingRunPhase.Queued || HoldsDevices;

    public bool IsFinal => Phase is TrainingRunPhase.Completed or TrainingRunPhase.Failed or TrainingRunPhase.Cancelled;
}

/// <summary>
/// The queue and the allocation table over one <see cref="WorkTable{TItem}"/> of runs, each run one item whose attempts are
/// its trainers. Placement is the pure <see cref="GangAllocator"/> over the devices the active silos advertise; each new
/// attempt's number is durable before its trainer starts, and only the current attempt's heartbeats and reports count. A
/// timer (every <see cref="TrainingClusterOptions.CheckInterval"/>, while any run is queued or holds devices) takes the
/// devices of lost or stalled trainers and of silos that left, and places waiting runs; a wake reminder brings the
/// scheduler back after its silo died, and a reactivated scheduler gives running attempts a fresh lease to check in.
/// Devices no queued run waits for may be lent to evaluations (<see cref="LendDevice"/>): a lent device is held like a
/// trainer's, so no device ever serves a trainer and an evaluation at once, and it comes back when the evaluation returns
/// it, stops renewing it, or its silo leaves. A run that finishes leaves the state for the archive of finished runs, where
/// <see cref="Get"/>, <see cref="List"/> and a submission of its id again still find it.
/// </summary>
public sealed class TrainingSchedulerGrain(
    [PersistentState("trainingscheduler", PlatformStorage.GrainStateProvider)] IPersistentState<TrainingSchedulerState> state,
    IOptions<TrainingClusterOptions> options,
    IClusterMembershipService membership,
    ISiloMetadataCache metadata,
    ILogger<TrainingSchedulerGrain> logger) : Grain, ITrainingSchedulerGrain, IRemindable
{
    public const string WakeReminder = "wake";
    /// <summary>Orleans' shortest reminder period by default: how long runs whose scheduler's silo died may wait for it.</summary>
    public static readonly TimeSpan WakePeriod = TimeSpan.FromMinutes(1);
    /// <summary>Finished runs per stored page of the archive: a summary takes a few hundred bytes.</summary>
    public const int FinishedRunsPerPage = 100;

    private readonly TrainingClusterOptions settings = options.Value;
    private WorkTable<TrainingRunRecord> table = null!;
    private RowArchive<TrainingRunSummary> finished = null!;
    private IGrainTimer? timer;
    /// <summary>When each loan was last lent or renewed; a loan not renewed within the lease timeout is taken back.</summary>
    private readonly Dictionary<string, DateTimeOffset> loanRenewedAt = new(StringComparer.Ordinal);

    private bool AnyActive => state.State.Runs.Any(r => r.IsActive) || state.State.Loans.Count > 0;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Failures are counted against MaxFailures here, not by the table, which must never give a run up on its own.
        table = new WorkTable<TrainingRunRecord>(state.State.Runs, new WorkTableOptions(settings.LeaseTimeout, settings.StallTimeout, int.MaxValue), TimeProvider.System);
        table.ResumeLeases();
        // A state stored before the archive existed has no head: its finished runs are still among its rows.
        state.State.FinishedRuns ??= new RowArchiveHead();
        finished = new RowArchive<TrainingRunSummary>(ServiceProvider.GetRequiredKeyedService<IGrainStorage>(PlatformStorage.GrainStateProvider),
            this.GetGrainId(), "trainingscheduler-finished", state.State.FinishedRuns, FinishedRunsPerPage, run => run.RunId);
        // Finished rows of a state stored before they left it, or of a finish whose archiving a storage error interrupted.
        await TryArchiveFinishedAsync();
        // Like the trainers' leases: a borrower gets a whole lease to renew with this activation.
        foreach (var loan in state.State.Loans) loanRenewedAt[loan.Borrower] = DateTimeOffset.UtcNow;
        if (AnyActive) await KeepCheckingAsync();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WakeReminder) return;
        if (AnyActive) await CheckRuns();
        else await ForgetWakeReminderAsync();
    }

    public async Task<TrainingRunSummary> Submit(TrainingRunSpec spec)
    {
        ThrowIfInvalid(spec);
        if (Find(spec.RunId) is { } existing)
        {
            // A retried submission whose registration was lost registers it now; the same spec again changes nothing there.
            await GrainFactory.GetGrain<ITrainingRunGrain>(existing.RunId).Register(existing.Spec, existing.CheckpointLocation);
            return Summary(existing);
        }
        // A finished run's id is taken for good: submitting it again finds that run, as it finished.
        if (await finished.FindAsync(spec.RunId) is { } archived) return archived;
        // Not said: the default evaluations, on the benchmark generated once (off the grain scheduler: it writes images).
        var evaluations = spec.Evaluations ?? await Task.Run(() => DefaultEvaluations.Resolve(settings.BenchmarkData));
        var row = table.Add(new TrainingRunRecord
        {
            // Stored as JSON naming each value's runtime type, and only known types are read back: a caller's list type
            // (a collection expression's hidden one, which `[.. list]` into an IReadOnlyList also makes) would make the state
            // unreadable after a restart, so arrays.
            Spec = spec with { TextDocuments = spec.TextDocuments.ToArray(), Evaluations = evaluations.ToArray() },
            Phase = TrainingRunPhase.Queued,
            SubmissionOrder = state.State.Submissions + 1,
            CheckpointLocation = spec.CheckpointLocation is { } location && BlobCheckpointStore.IsBlobLocation(location)
                ? location.TrimEnd('/')
                : spec.CheckpointLocation is { } folder ? Path.GetFullPath(folder) : settings.RunFolder(spec.RunId),
            SubmittedAt = DateTimeOffset.UtcNow,
        }, checked((int)state.State.Submissions));
        state.State.Submissions = row.SubmissionOrder;
        // On disk before the scheduler's state: a host whose storage may lose its latest writes re-submits the run from there at start.
        if (ServiceProvider.GetService(typeof(ITrainingSubmissionJournal)) is ITrainingSubmissionJournal journal)
            await journal.AppendAsync(spec);
        await state.WriteStateAsync();
        await GrainFactory.GetGrain<ITrainingRunGrain>(row.RunId).Register(row.Spec, row.CheckpointLocation);
        await PlaceAsync();
        await KeepCheckingAsync();
        return Summary(row);
    }

    private static void ThrowIfInvalid(TrainingRunSpec spec)
    {
        if (TrainingRunIds.Problem(spec.RunId) is { } problem) throw new ArgumentException(problem, nameof(spec));
        if (spec.Devices < 1) throw new ArgumentException($"Run '{spec.RunId}' asks for {spec.Devices} devices; a run needs at least one.", nameof(spec));
        if (spec.Steps < 1) throw new ArgumentException($"Run '{spec.RunId}' has {spec.Steps} steps; a run needs at least one.", nameof(spec));
    }

    public async Task<IReadOnlyList<TrainingRunSummary>> List(int finishedRuns = ITrainingSchedulerGrain.ListedFinishedRuns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(finishedRuns);
        var queueOrder = GangAllocator.QueueOrder(state.State.Runs.Select(Request)).Select(r => r.RunId).ToList();
        // Finished rows are still here only between a finish and its archiving; they come first among the finished, as the newest.
        var unfinished = state.State.Runs.OrderBy(r => r.IsFinal).ThenBy(r => queueOrder.IndexOf(r.RunId)).Select(Summary).ToList();
        var listed = unfinished.Select(r => r.RunId).ToHashSet(StringComparer.Ordinal);
        return [.. unfinished, .. (await finished.NewestAsync(finishedRuns)).Where(r => !listed.Contains(r.RunId))];
    }

    public async Task<TrainingRunSummary?> Get(string runId) => Find(runId) is { } row ? Summary(row) : await finished.FindAsync(runId);

    /// <summary>A finished run, as it finished: cancelling, pausing or resuming it changes nothing.</summary>
    private async Task<TrainingRunSummary> FinishedRequired(string runId) =>
        await finished.FindAsync(runId) ?? throw new ArgumentException($"No training run '{runId}'.", nameof(runId));

    public Task<IReadOnlyList<DeviceAllocation>> Allocations()
    {
        IReadOnlyList<DeviceAllocation> held = state.State.Runs.Where(r => r.HoldsDevices)
            .SelectMany(r => r.Devices.Select(d => new DeviceAllocation(d, r.RunId, r.Attempt)))
            .Concat(state.State.Loans.Select(l => new DeviceAllocation(l.Device, l.Borrower, 0)))
            .ToList();
        return Task.FromResult(held);
    }

    public async Task<DeviceLoanAnswer> LendDevice(string borrower)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(borrower);
        if (state.State.Loans.Find(l => l.Borrower == borrower) is { } lent)
        {
            loanRenewedAt[borrower] = DateTimeOffset.UtcNow;
            return new DeviceLoanAnswer(new DeviceLoan(borrower, lent.Device, settings.LeaseTimeout), null);
        }
        // Runs that can start now take their devices first: only what is left after them may be lent.
        await PlaceAsync();
        var queued = state.State.Runs.Where(r => r.Phase == TrainingRunPhase.Queued).Select(Request);
        var (device, reason) = GangAllocator.Lend(queued, DeviceInventoryGrain.ActiveDevices(membership, metadata), HeldDevices());
        if (device is null) return new DeviceLoanAnswer(null, reason);
        state.State.Loans.Add(new DeviceLoanRecord { Borrower = borrower, Device = device, LentAt = DateTimeOffset.UtcNow });
        loanRenewedAt[borrower] = DateTimeOffset.UtcNow;
        await state.WriteStateAsync();
        await KeepCheckingAsync();
        logger.LogInformation("Lent {Device} to {Borrower}", device, borrower);
        return new DeviceLoanAnswer(new DeviceLoan(borrower, device, settings.LeaseTimeout), null);
    }

    public Task<bool> RenewLoan(string borrower)
    {
        if (!state.State.Loans.Exists(l => l.Borrower == borrower)) return Task.FromResult(false);
        loanRenewedAt[borrower] = DateTimeOffset.UtcNow;
        return Task.FromResult(true);
    }

    public async Task ReturnDevice(string borrower)
    {
        if (state.State.Loans.RemoveAll(l => l.Borrower == borrower) == 0) return;
        loanRenewedAt.Remove(borrower);
        await state.WriteStateAsync();
        await PlaceAsync();
    }

    /// <summary>Takes back the loans whose borrower stopped renewing them or whose silo left; true when any was.</summary>
    private bool TakeBackLostLoans(IReadOnlySet<string> activeSilos)
    {
        var now = DateTimeOffset.UtcNow;
        var lost = state.State.Loans.Where(l => !activeSilos.Contains(l.Device.Silo) || now - loanRenewedAt.GetValueOrDefault(l.Borrower, l.LentAt) > settings.LeaseTimeout).ToList();
        foreach (var loan in lost)
        {
            logger.LogWarning("Took back {Device} from {Borrower}: {Reason}", loan.Device, loan.Borrower,
                activeSilos.Contains(loan.Device.Silo) ? "its loan was not renewed" : "its silo left the cluster");
            state.State.Loans.Remove(loan);
            loanRenewedAt.Remove(loan.Borrower);
        }
        return lost.Count > 0;
    }

    /// <summary>The devices trainers hold and those lent to evaluations: none of them may be given to anyone else.</summary>
    private HashSet<DeviceAddress> HeldDevices() =>
        state.State.Runs.Where(r => r.HoldsDevices).SelectMany(r => r.Devices).Concat(state.State.Loans.Select(l => l.Device)).ToHashSet();

    public async Task<TrainingRunSummary> Cancel(string runId)
    {
        if (Find(runId) is not { } row) return await FinishedRequired(runId);
        switch (row.Phase)
        {
            case TrainingRunPhase.Queued:
                table.Withdraw(row.Index, "cancelled while queued");
                await FinishAsync(row, TrainingRunPhase.Cancelled);
                await PlaceAsync();
                break;
            case TrainingRunPhase.Paused:
                await FinishAsync(row, TrainingRunPhase.Cancelled);
                break;
            case TrainingRunPhase.Running or TrainingRunPhase.Pausing:
                row.Phase = TrainingRunPhase.Cancelling;
                await state.WriteStateAsync();
                await StopTrainerAsync(row);
                break;
        }
        return Summary(row);
    }

    public async Task<TrainingRunSummary> Pause(string runId)
    {
        if (Find(runId) is not { } row) return await FinishedRequired(runId);
        switch (row.Phase)
        {
            case TrainingRunPhase.Queued:
                table.Withdraw(row.Index, "paused while queued");
                row.Phase = TrainingRunPhase.Paused;
                row.WaitingReason = null;
                await state.WriteStateAsync();
                await PlaceAsync();
                break;
            case TrainingRunPhase.Running:
                row.Phase = TrainingRunPhase.Pausing;
                await state.WriteStateAsync();
                await StopTrainerAsync(row);
                break;
        }
        return Summary(row);
    }

    public async Task<TrainingRunSummary> Resume(string runId)
    {
        if (Find(runId) is not { } row) return await FinishedRequired(runId);
        if (row.Phase != TrainingRunPhase.Paused) return Summary(row);
        table.Reopen(row.Index);
        row.Phase = TrainingRunPhase.Queued;
        row.FinishedAt = null;
        await state.WriteStateAsync();
        await PlaceAsync();
        await KeepCheckingAsync();
        return Summary(row);
    }

    public Task<bool> Heartbeat(WorkItemId item, int attempt, WorkProgress progress)
    {
        if (item.Kind != WorkKind.Training || !table.Heartbeat(item.Index, attempt, progress.Worker, progress.Done)) return Task.FromResult(false);
        if (progress.Done is { } step) table[item.Index].Step = (int)step;
        return Task.FromResult(true);
    }

    public async Task<bool> Complete(WorkItemId item, int attempt, WorkReport report)
    {
        if (item.Kind != WorkKind.Training) return false;
        switch (table.Complete(item.Index, attempt))
        {
            case WorkOutcome.Repeated: return true;
            case WorkOutcome.Refused: return false;
        }
        var row = table[item.Index];
        var (step, stopped) = report is TrainerReport trainer ? (trainer.Step, trainer.Stopped) : (row.Step, false);
        row.Step = step;
        row.Devices = [];
        switch (row.Phase, stopped)
        {
            case (_, false):
                await FinishAsync(row, TrainingRunPhase.Completed);
                break;
            case (TrainingRunPhase.Pausing, _):
                row.Phase = TrainingRunPhase.Paused;
                await state.WriteStateAsync();
                break;
            case (TrainingRunPhase.Cancelling, _):
                await FinishAsync(row, TrainingRunPhase.Cancelled);
                break;
            default:
                // Stopped unasked (its silo shuts down): it continues from its checkpoint, not counted as a failure.
                table.Reopen(row.Index);
                Requeue(row, $"attempt {attempt} stopped at step {step} of {row.Spec.Steps}");
                await state.WriteStateAsync();
                break;
        }
        await PlaceAsync();
        return true;
    }

    public async Task Fail(WorkItemId item, int attempt, string error)
    {
        if (item.Kind != WorkKind.Training || table.Fail(item.Index, attempt, error) == WorkOutcome.Refused) return;
        logger.LogWarning("Trainer attempt {Attempt} of run {Run} failed: {Error}", attempt, table[item.Index].RunId, error);
        await LostAsync(table[item.Index], error);
        await PlaceAsync();
    }

    public async Task CheckRuns()
    {
        foreach (var (row, _) in table.ExpireLeases())
        {
            logger.LogWarning("Trainer attempt {Attempt} of run {Run} lost its lease: {Reason}", row.Attempt, row.RunId, row.LastError);
            await LostAsync(row, row.LastError!);
        }
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.ToParsableString()).ToHashSet(StringComparer.Ordinal);
        foreach (var row in state.State.Runs.Where(r => r.HoldsDevices).ToList())
        {
            if (row.Devices.FirstOrDefault(d => !active.Contains(d.Silo)) is not { } gone) continue;
            if (row.Spec.Trainers > 1 && active.Contains(row.Devices[0].Silo))
            {
                // A DiLoCo replica's silo is gone, not the trainer's that holds the lease: its coordinator finishes the rounds
                // without it, so only the lost devices are let go.
                logger.LogWarning("Run {Run} attempt {Attempt} lost replica device(s) {Devices}; its other replicas go on", row.RunId, row.Attempt,
                    string.Join(", ", row.Devices.Where(d => !active.Contains(d.Silo))));
                row.Devices = row.Devices.Where(d => active.Contains(d.Silo)).ToList();
                await state.WriteStateAsync();
                continue;
            }
            var reason = $"silo {gone.Silo} holding {gone.Device} left the cluster";
            if (table.Fail(row.Index, row.Attempt, reason) == WorkOutcome.Refused) continue;
            logger.LogWarning("Trainer attempt {Attempt} of run {Run} lost its devices: {Reason}", row.Attempt, row.RunId, reason);
            await LostAsync(row, reason);
        }
        if (TakeBackLostLoans(active)) await state.WriteStateAsync();
        await PlaceAsync();
        await GiveShortRunsReplacementsAsync();
        if (!AnyActive) await StopCheckingAsync();
    }

    /// <summary>
    /// Gives a running multi-trainer run that has fewer devices than replicas (it started short after a requeue, or lost a
    /// replica's silo) free devices back, after every queued run had its turn; its trainer sees them in the run's summary
    /// and starts the missing replicas there, which join at the current round from the current weights.
    /// </summary>
    private async Task GiveShortRunsReplacementsAsync()
    {
        var shortRuns = state.State.Runs.Where(r => r.Phase == TrainingRunPhase.Running && r.Spec.Trainers > 1 && r.Devices.Count > 0 && r.Devices.Count < r.Spec.Trainers).ToList();
        if (shortRuns.Count == 0) return;
        var devices = DeviceInventoryGrain.ActiveDevices(membership, metadata);
        var queued = state.State.Runs.Where(r => r.Phase == TrainingRunPhase.Queued).Select(Request).ToList();
        bool changed = false;
        foreach (var row in shortRuns)
        {
            if (devices.FirstOrDefault(d => d.Address == row.Devices[0]) is not { } trainerDevice) continue;
            var added = GangAllocator.Replacements(row.Spec.Trainers - row.Devices.Count, trainerDevice.Kind, queued, devices, HeldDevices());
            if (added.Count == 0) continue;
            row.Devices.AddRange(added);
            changed = true;
            logger.LogInformation("Run {Run} attempt {Attempt} gets replacement device(s) {Devices}", row.RunId, row.Attempt, string.Join(", ", added));
        }
        if (changed) await state.WriteStateAsync();
    }

    /// <summary>
    /// The attempt is gone (failed, lease lost, silo left) and the table has put the run back to pending: its devices are
    /// free. A run asked to pause or cancel has got there; a running one is requeued at the front, or fails after too many.
    /// </summary>
    private async Task LostAsync(TrainingRunRecord row, string reason)
    {
        row.Devices = [];
        switch (row.Phase)
        {
            case TrainingRunPhase.Pausing:
                table.Withdraw(row.Index, reason);
                row.Phase = TrainingRunPhase.Paused;
                await state.WriteStateAsync();
                return;
            case TrainingRunPhase.Cancelling:
                table.Withdraw(row.Index, reason);
                await FinishAsync(row, TrainingRunPhase.Cancelled);
                return;
        }
        row.Failures++;
        if (row.Failures >= settings.MaxFailures)
        {
            table.Withdraw(row.Index, reason);
            row.Error = $"{row.Failures} attempts failed or were lost; last: {reason}";
            await FinishAsync(row, TrainingRunPhase.Failed);
            return;
        }
        Requeue(row, reason);
        await state.WriteStateAsync();
    }

    private static void Requeue(TrainingRunRecord row, string reason)
    {
        row.Phase = TrainingRunPhase.Queued;
        row.Requeued = true;
        row.Error = reason;
    }

    private async Task FinishAsync(TrainingRunRecord row, TrainingRunPhase phase)
    {
        row.Phase = phase;
        row.Devices = [];
        row.WaitingReason = null;
        row.FinishedAt = DateTimeOffset.UtcNow;
        await state.WriteStateAsync();
        await TryArchiveFinishedAsync();
    }

    /// <summary>
    /// A storage error here refuses nothing: the finish itself is stored, and a finished row left in the state is listed and found
    /// from there until the next finish or activation archives it.
    /// </summary>
    private async Task TryArchiveFinishedAsync()
    {
        try
        {
            await ArchiveFinishedAsync();
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            logger.LogWarning(error, "Could not archive finished training runs yet; they stay in the scheduler's state until the next finish or activation");
        }
    }

    /// <summary>
    /// Moves the finished rows out of the state into the archive, oldest finish first: the archive's pages first, then the state that
    /// no longer holds them (see <see cref="RowArchive{TRow}"/> for why a crash in between loses nothing and repeats nothing).
    /// </summary>
    private async Task ArchiveFinishedAsync()
    {
        var done = state.State.Runs.Where(r => r.IsFinal).OrderBy(r => r.FinishedAt).ThenBy(r => r.SubmissionOrder).ToList();
        if (done.Count == 0) return;
        await finished.AppendAsync(done.Select(Summary).ToList());
        foreach (var row in done)
            if (!table.Remove(row.Index)) state.State.Runs.Remove(row);
        await state.WriteStateAsync();
    }

    /// <summary>
    /// Gives waiting runs devices (each placement a new attempt, durable before its trainer starts) and records why the
    /// others wait. A trainer that cannot be started loses its lease and its run is requeued.
    /// </summary>
    private async Task PlaceAsync()
    {
        var queued = state.State.Runs.Where(r => r.Phase == TrainingRunPhase.Queued).ToList();
        if (queued.Count == 0) return;
        var plan = GangAllocator.Plan(queued.Select(Request), DeviceInventoryGrain.ActiveDevices(membership, metadata), HeldDevices());
        var changed = false;
        foreach (var row in queued)
        {
            var reason = plan.Waiting.GetValueOrDefault(row.RunId);
            changed |= reason != row.WaitingReason;
            row.WaitingReason = reason;
        }
        var started = new List<TrainingRunRecord>();
        foreach (var (request, devices) in plan.Placements)
        {
            var row = Required(request.RunId);
            if (!table.Start(row.Index)) continue;
            row.Phase = TrainingRunPhase.Running;
            row.Devices = [.. devices];
            row.Requeued = false;
            row.WaitingReason = null;
            row.StartedAt ??= DateTimeOffset.UtcNow;
            started.Add(row);
        }
        if (started.Count == 0 && !changed) return;
        await state.WriteStateAsync();
        foreach (var row in started)
        {
            var assignment = new TrainerAssignment(row.Spec, new WorkItemId(WorkKind.Training, row.Index), row.Attempt, row.Devices.ToArray(),
                row.CheckpointLocation, settings.LeaseTimeout, settings.StallTimeout);
            try
            {
                await Trainer(row).Start(assignment);
                logger.LogInformation("Run {Run} attempt {Attempt} started on {Devices}", row.RunId, row.Attempt, string.Join(", ", row.Devices));
            }
            catch (Exception error)
            {
                logger.LogWarning(error, "Starting attempt {Attempt} of run {Run} failed; its lease will expire and the run is requeued", row.Attempt, row.RunId);
            }
        }
    }

    private async Task StopTrainerAsync(TrainingRunRecord row)
    {
        try
        {
            await Trainer(row).Stop();
        }
        catch (Exception error)
        {
            logger.LogWarning(error, "Could not reach the trainer of run {Run} attempt {Attempt}; its lease expiry finishes the {Phase}", row.RunId, row.Attempt, row.Phase);
        }
    }

    private ITrainerGrain Trainer(TrainingRunRecord row) =>
        GrainFactory.GetGrain<ITrainerGrain>(DevicePlacedKey.Format(row.Devices[0], $"{row.RunId}#{row.Attempt}"));

    private async Task KeepCheckingAsync()
    {
        timer ??= this.RegisterGrainTimer(_ => CheckRuns(), new GrainTimerCreationOptions(settings.CheckInterval, settings.CheckInterval) { KeepAlive = true });
        await this.RegisterOrUpdateReminder(WakeReminder, WakePeriod, WakePeriod);
    }

    private async Task StopCheckingAsync()
    {
        timer?.Dispose();
        timer = null;
        await ForgetWakeReminderAsync();
    }

    private async Task ForgetWakeReminderAsync()
    {
        try
        {
            if (await this.GetReminder(WakeReminder) is { } reminder) await this.UnregisterReminder(reminder);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // Harmless: the reminder fires once more and removes itself then.
            logger.LogWarning(error, "Could not remove the training scheduler's wake reminder");
        }
    }

    private TrainingRunRecord? Find(string runId) => state.State.Runs.FirstOrDefault(r => r.RunId == runId);

    private TrainingRunRecord Required(string runId) => Find(runId) ?? throw new ArgumentException($"No training run '{runId}'.", nameof(runId));

    /// <summary>A requeued multi-trainer run starts with one device or more: its coordinator goes on without the others (see <see cref="GangRequest.MinDevices"/>).</summary>
    private static GangRequest Request(TrainingRunRecord row) =>
        new(row.RunId, row.Spec.Devices, row.Spec.DeviceKind, row.Spec.Priority, row.SubmissionOrder, row.Requeued,
            row.Spec.Trainers > 1 && row.Requeued ? 1 : null);

    private static TrainingRunSummary Summary(TrainingRunRecord row) =>
        new(row.RunId, row.Phase, row.Spec.Priority, row.SubmissionOrder, row.Spec.Devices, row.Spec.DeviceKind, row.Devices.ToArray(), row.WaitingReason,
            row.Attempt, row.Step, row.Spec.Steps, row.Error, row.SubmittedAt, row.StartedAt, row.FinishedAt);
}
