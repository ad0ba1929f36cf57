using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Storage;
using Platform.Datasets;
using Platform.Grains.Work;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Units;
using Polly;

namespace Platform.Grains.Ingestion;

/// <summary>
/// Durable, small and bounded: inputs, settings, one row per job-wide step, and where the unit and shard tables stand. Those
/// tables grow with the work (a unit per input part, two rows per shard), so their rows live in pages of their own
/// (<see cref="PagedRows{TRow}"/>) beside this state. Outputs live in files.
/// </summary>
[GenerateSerializer]
public sealed class IngestJobState
{
    [Id(0)] public IngestJobPhase Phase { get; set; }
    [Id(1)] public IngestJobRequest? Request { get; set; }
    [Id(4)] public long PairsKept { get; set; }
    [Id(5)] public string? Error { get; set; }
    [Id(8)] public int FirstShardNumber { get; set; }
    [Id(12)] public PagedRowsHead UnitRows { get; set; } = new();
    [Id(13)] public PagedRowsHead ShardFetchRows { get; set; } = new();
    [Id(14)] public PagedRowsHead ShardWriteRows { get; set; } = new();
    /// <summary>The job-wide steps run so far, one row per <see cref="IngestStep"/> in step order.</summary>
    [Id(11)] public List<WorkUnitRecord> Steps { get; set; } = [];
}

/// <summary>A row of one of the job's work tables: a unit to extract, a shard to fetch or to write, or a job-wide step.</summary>
[GenerateSerializer]
public sealed class WorkUnitRecord : WorkItem
{
    [Id(0)] public string Input { get; set; } = "";
    [Id(1)] public UnitReport? Report { get; set; }
    [Id(2)] public ShardReport? ShardReport { get; set; }
    /// <summary>An extraction unit's part of its input, [Start, End) (see <see cref="InputUnit"/>); End is null when the unit reads the whole file.</summary>
    [Id(3)] public long Start { get; set; }
    [Id(4)] public long? End { get; set; }

    /// <summary>The input, with the part of it when the unit reads a part: `file.warc.gz [0, 268435456)`.</summary>
    public string Describe() => new InputUnit(Input, Start, End).ToString();
}

/// <summary>
/// A small state machine over four <see cref="WorkTable{TItem}"/>s: job-wide steps (planning, finishing, dedupe), units,
/// shard fetches and shard writes. Each phase has one table whose items are leased to workers (<see cref="IngestStepGrain"/>,
/// <see cref="IngestUnitGrain"/>, <see cref="IngestShardGrain"/>), which report through <see cref="IWorkCoordinatorGrain"/>;
/// when every item of the phase's table is done the job moves to the next phase. Nothing heavy runs in this activation.
/// Each attempt writes into a folder of its own, and the attempt accepted is the one whose output the next phase reads.
/// After the job's silo dies the job comes back on the next call (a live worker's heartbeat or a status poll) or, when
/// nothing calls (every worker was on that silo), at the latest when its wake reminder fires: a persistent reminder
/// registered while the job runs and removed when it is over.
/// </summary>
public sealed class IngestJobGrain(
    [PersistentState("ingestjob", PlatformStorage.GrainStateProvider)] IPersistentState<IngestJobState> state,
    IngestStorage storage,
    IOptions<StorageRetryOptions> storageRetry,
    IOptions<IngestWorkerOptions> workerOptions,
    ILogger<IngestJobGrain> logger) : Grain, IIngestJobGrain, IRemindable
{
    public const string WakeReminder = "wake";
    /// <summary>Orleans' shortest reminder period by default: how long a job whose silo died may wait for a caller.</summary>
    public static readonly TimeSpan WakePeriod = TimeSpan.FromMinutes(1);

    /// <summary>Rows per stored page of the unit and shard tables: a page stays far below Azure Table's entity limit.</summary>
    public const int RowsPerPage = 200;

    /// <summary>
    /// Items of a table handed out at once. Each one out heartbeats into this activation and waits for a work slot on its silo,
    /// so a job of many thousand units handed out at once would bury its own calls (and status polls) under their heartbeats;
    /// this is more than the work slots of a large cluster, and the rest follow as items finish.
    /// </summary>
    public const int MaxItemsOut = 256;

    private readonly Dictionary<WorkKind, WorkTable<WorkUnitRecord>> tables = [];
    private readonly Dictionary<WorkKind, PagedRows<WorkUnitRecord>> pagedRows = [];
    private readonly ResiliencePipeline storageWrites = StorageRetry.Pipeline(storageRetry.Value, logger, "Writing an ingest job's state");
    private IGrainTimer? timer;
    private IGrainTimer? folderRemoval;

    private string JobId => this.GetPrimaryKeyString();
    private IngestJobSettings Settings => state.State.Request!.Settings;
    private string OutputDirectory => state.State.Request!.OutputDirectory;
    private string DatasetLocation => state.State.Request!.EffectiveDatasetLocation;
    private IngestJobLayout Layout => new(OutputDirectory);
    private List<WorkUnitRecord> Units => Rows(WorkKind.Unit).Items;
    private List<WorkUnitRecord> ShardFetches => Rows(WorkKind.ShardFetch).Items;
    private List<WorkUnitRecord> ShardWrites => Rows(WorkKind.ShardWrite).Items;

    /// <summary>The job-wide step the job waits for, if any: the funnel is written once the last shard is committed.</summary>
    private IngestStep? CurrentStep => state.State.Phase switch
    {
        IngestJobPhase.Planning => IngestStep.Plan,
        IngestJobPhase.Finishing => IngestStep.Finish,
        IngestJobPhase.Deduping => IngestStep.Dedupe,
        IngestJobPhase.WritingShards when ShardWrites.All(w => w.State == WorkUnitState.Done) => IngestStep.Funnel,
        _ => null,
    };

    /// <summary>The table whose items the job waits for.</summary>
    private WorkKind? ActiveKind => CurrentStep is not null ? WorkKind.Step : state.State.Phase switch
    {
        IngestJobPhase.Extracting => WorkKind.Unit,
        IngestJobPhase.FetchingShards => WorkKind.ShardFetch,
        IngestJobPhase.WritingShards => WorkKind.ShardWrite,
        _ => null,
    };

    private WorkTable<WorkUnitRecord> Table(WorkKind kind)
    {
        if (tables.TryGetValue(kind, out var table)) return table;
        var items = kind == WorkKind.Step ? state.State.Steps : Rows(kind).Items;
        return tables[kind] = new WorkTable<WorkUnitRecord>(items, new WorkTableOptions(Settings.LeaseTimeout, Settings.StallTimeout, Settings.MaxAttempts),
            TimeProvider.System);
    }

    /// <summary>The stored pages of a table that grows with the work.</summary>
    private PagedRows<WorkUnitRecord> Rows(WorkKind kind)
    {
        if (pagedRows.TryGetValue(kind, out var rows)) return rows;
        var (name, head) = kind switch
        {
            WorkKind.Unit => ("units", state.State.UnitRows),
            WorkKind.ShardFetch => ("shardfetches", state.State.ShardFetchRows),
            WorkKind.ShardWrite => ("shardwrites", state.State.ShardWriteRows),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "An ingest job keeps no pages of such work."),
        };
        var storage = ServiceProvider.GetRequiredKeyedService<IGrainStorage>(PlatformStorage.GrainStateProvider);
        return pagedRows[kind] = new PagedRows<WorkUnitRecord>(storage, this.GetGrainId(), $"ingestjob-{name}", head, RowsPerPage,
            row => (row.State, row.Attempt, row.LastError, row.Report, row.ShardReport));
    }

    private static readonly WorkKind[] PagedKinds = [WorkKind.Unit, WorkKind.ShardFetch, WorkKind.ShardWrite];

    /// <summary>A table replaced as a whole (the next phase's rows) goes into a new generation of pages, so a crash before the state names it loses nothing.</summary>
    private void ResetTable(WorkKind kind, IEnumerable<WorkUnitRecord> replacement)
    {
        Rows(kind).StartGeneration();
        Table(kind).Reset(replacement);
    }

    /// <summary>The changed pages first, then the state that names them; then the pages no generation names any more go.</summary>
    /// <remarks>
    /// A storage outage is waited out, and a write given up deactivates the job, so the attempt numbers and phase it carried
    /// are forgotten with it and the outage costs no attempt of the work.
    /// </remarks>
    private async Task SaveAsync()
    {
        await storageWrites.WriteOnGrainAsync(_ => Task.WhenAll(PagedKinds.Select(kind => Rows(kind).WriteAsync())), this);
        await storageWrites.WriteStateAsync(state, this);
        foreach (var kind in PagedKinds)
        {
            try { await Rows(kind).ForgetStaleAsync(); }
            catch (Exception error) { logger.LogWarning(error, "Could not clear the old {Kind} pages of job {Job}; they stay unused", kind, JobId); }
        }
    }

    private WorkUnitRecord? StepRecord(IngestStep step) => state.State.Steps.ElementAtOrDefault((int)step);

    private int StepAttempts(IngestStep step) => StepRecord(step)?.Attempt ?? 0;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(PagedKinds.Select(kind => Rows(kind).LoadAsync()));
        if (state.State.Request is not null && ActiveKind is { } kind)
        {
            if (CurrentStep is { } step) AddStepRows(step);
            Table(kind).ResumeLeases();
            StartTimer();
            await this.RegisterOrUpdateReminder(WakeReminder, WakePeriod, WakePeriod);
        }
        else if (state.State is { Phase: IngestJobPhase.Completed, Request: not null })
            ScheduleWorkFolderRemoval();
    }

    /// <summary>Being activated was the point (<see cref="OnActivateAsync"/> resumes the job); a reminder left over from a finished job is removed.</summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == WakeReminder && state.State.Phase is IngestJobPhase.Completed or IngestJobPhase.Failed or IngestJobPhase.NotSubmitted)
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
            logger.LogWarning(error, "Could not remove the wake reminder of finished job {Job}", JobId);
        }
    }

    public async Task<IngestJobStatus> Submit(IngestJobRequest request)
    {
        if (state.State.Request is { } existing)
        {
            if (!existing.Inputs.SequenceEqual(request.Inputs) || existing.OutputDirectory != request.OutputDirectory || existing.Dataset != request.Dataset
                || existing.EffectiveDatasetLocation != request.EffectiveDatasetLocation)
                throw new InvalidOperationException($"Ingest job '{JobId}' already exists with other inputs, another output directory or another dataset.");
            return Status();
        }
        IngestSubmissions.ThrowIfInvalid(request);
        // A blob location this silo's storage account cannot open fails the submission, not the job's last phase.
        if (request.Dataset is not null && Platform.Datasets.DatasetTarget.IsBlobUrl(request.EffectiveDatasetLocation))
            await storage.OpenDatasetAsync(request.EffectiveDatasetLocation, CancellationToken.None);
        // The state is stored as JSON naming each value's runtime type, and only known types are read back:
        // a caller's list type (a collection expression's hidden one, say) would make the job unreadable after a restart.
        // A blob container or prefix becomes its dump blobs, listed once now: the units are fixed for the job's life.
        var inputs = await storage.Inputs.ExpandAsync(request.Inputs, CancellationToken.None);
        // On disk before the job's state: a host whose storage may lose its latest writes re-drives the job from there at start.
        if (ServiceProvider.GetService(typeof(IIngestSubmissionJournal)) is IIngestSubmissionJournal journal)
            await journal.AppendAsync(JobId, request);
        state.State.Request = request with { Inputs = request.Inputs.ToArray() };
        // One unit per input until planning cuts the big ones: planning reads them (a few reads per cut for per-record gzip, all of an
        // uncompressed WARC or CSV), which must not hold up this call or the job's status behind it.
        ResetTable(WorkKind.Unit, inputs.Select(input => new WorkUnitRecord { Input = input }));
        StartTimer();
        await this.RegisterOrUpdateReminder(WakeReminder, WakePeriod, WakePeriod);
        await StartStepAsync(IngestStep.Plan, IngestJobPhase.Planning);
        await Jobs.JobDirectory.RecordAsync(GrainFactory, Jobs.JobKind.Ingest, JobId, logger);
        return Status();
    }

    public Task<IngestJobStatus> GetStatus() => Task.FromResult(Status());

    public Task<bool> Heartbeat(WorkItemId item, int attempt, WorkProgress progress) =>
        Task.FromResult(ActiveKind == item.Kind && Table(item.Kind).Heartbeat(item.Index, attempt, progress.Worker, progress.Done));

    public async Task<bool> Complete(WorkItemId item, int attempt, WorkReport report)
    {
        if (state.State.Request is null) return false;
        var table = Table(item.Kind);
        // A retried completion of an attempt already taken (its answer was lost) is confirmed, even after the job moved on.
        if (ActiveKind != item.Kind) return table.IsDoneBy(item.Index, attempt);
        switch (table.Complete(item.Index, attempt))
        {
            case WorkOutcome.Repeated: return true;
            case WorkOutcome.Refused: return false;
        }
        var record = table[item.Index];
        switch (report)
        {
            case UnitReport unit: record.Report = unit; break;
            case ShardReport shard: record.ShardReport = shard; break;
        }
        if (item.Kind == WorkKind.Step) state.State.Error = null;
        if (!table.AllDone)
        {
            await SaveAsync();
            return true;
        }
        await AdvanceAsync(item.Kind == WorkKind.Step ? (IngestStep)item.Index : null, report);
        return true;
    }

    public async Task Fail(WorkItemId item, int attempt, string error)
    {
        if (state.State.Request is null || ActiveKind != item.Kind) return;
        var table = Table(item.Kind);
        var outcome = table.Fail(item.Index, attempt, error);
        if (outcome == WorkOutcome.Refused) return;
        await RetriedOrGaveUpAsync(table[item.Index], outcome, error);
    }

    private async Task RetriedOrGaveUpAsync(WorkUnitRecord record, WorkOutcome outcome, string error)
    {
        if (outcome == WorkOutcome.GaveUp)
        {
            state.State.Phase = IngestJobPhase.Failed;
            state.State.Error = $"{record.Describe()} failed {record.Attempt} times; last: {error}";
        }
        else if (ActiveKind == WorkKind.Step)
            // A job-wide step shows why it is being redone.
            state.State.Error = error;
        await SaveAsync();
    }

    /// <summary>Every item of the phase's table is done: the next phase starts.</summary>
    private async Task AdvanceAsync(IngestStep? step, WorkReport report)
    {
        switch (state.State.Phase, step, report)
        {
            case (IngestJobPhase.Planning, IngestStep.Plan, PlanReport plan):
                ResetTable(WorkKind.Unit, plan.Units.Select(unit => new WorkUnitRecord { Input = unit.Input, Start = unit.Start, End = unit.End }));
                await StartPhaseAsync(IngestJobPhase.Extracting);
                break;
            case (IngestJobPhase.Extracting, _, _):
                await StartStepAsync(IngestStep.Finish, IngestJobPhase.Finishing);
                break;
            case (IngestJobPhase.Finishing, IngestStep.Finish, FinishReport finish):
                state.State.PairsKept = finish.PairsKept;
                var shards = state.State.Request!.Dataset is null ? 0 : IngestJobOptions.ShardCount(finish.PairsKept, Settings);
                state.State.FirstShardNumber = shards == 0 ? state.State.FirstShardNumber : finish.FirstShardNumber;
                ResetTable(WorkKind.ShardFetch, Enumerable.Range(0, shards).Select(i => new WorkUnitRecord { Input = $"shard {finish.FirstShardNumber + i:D5} (fetch)" }));
                // The unit folders stay until the job completes: a storage that loses its last writes in a crash can bring the job
                // back to finishing, which reads them again.
                if (shards == 0) await CompleteAsync();
                else await StartPhaseAsync(IngestJobPhase.FetchingShards);
                break;
            case (IngestJobPhase.FetchingShards, _, _):
                await StartStepAsync(IngestStep.Dedupe, IngestJobPhase.Deduping);
                break;
            case (IngestJobPhase.Deduping, IngestStep.Dedupe, StepDoneReport):
                // The writes read the verdicts of the accepted dedupe attempt.
                ResetTable(WorkKind.ShardWrite, ShardFetches
                    .Select(f => new WorkUnitRecord { Input = $"shard {state.State.FirstShardNumber + f.Index:D5} (write)" }));
                await StartPhaseAsync(IngestJobPhase.WritingShards);
                break;
            case (IngestJobPhase.WritingShards, IngestStep.Funnel, StepDoneReport):
                await CompleteAsync();
                break;
            case (IngestJobPhase.WritingShards, null, _):
                // Every shard is committed, so the dataset gets the job's funnel as `ingest run` leaves it.
                AddStepRows(IngestStep.Funnel);
                await DispatchPendingAsync();
                break;
            default:
                await FailJobAsync($"{step} reported {report.GetType().Name} in phase {state.State.Phase}.");
                break;
        }
    }

    private async Task StartStepAsync(IngestStep step, IngestJobPhase phase)
    {
        AddStepRows(step);
        await StartPhaseAsync(phase);
    }

    /// <summary>
    /// Steps come in their order (a job without a dataset stops before dedupe), so a step's row index is its number. A job stored
    /// before the steps were work items has no rows: the steps it passed count as done once, and the one it was in runs again.
    /// </summary>
    private void AddStepRows(IngestStep upTo)
    {
        var steps = Table(WorkKind.Step);
        while (steps.Items.Count <= (int)upTo)
        {
            var step = (IngestStep)steps.Items.Count;
            var row = steps.Add(new WorkUnitRecord { Input = StepName(step) });
            if (step < upTo) (row.State, row.Attempt) = (WorkUnitState.Done, 1);
        }
    }

    private static string StepName(IngestStep step) => step switch
    {
        IngestStep.Plan => "planning the work units",
        IngestStep.Finish => "the final phase",
        IngestStep.Dedupe => "dedupe",
        _ => "writing the funnel into the dataset",
    };

    private async Task StartPhaseAsync(IngestJobPhase phase)
    {
        state.State.Phase = phase;
        await DispatchPendingAsync();
    }

    private void StartTimer()
    {
        // Each second at most, so a lost lease is noticed promptly; kept alive because during a job-wide step only one
        // worker calls in, and an idle-collected job would stall.
        var tickPeriod = TimeSpan.FromTicks(Math.Clamp(Settings.LeaseTimeout.Ticks / 4, TimeSpan.FromMilliseconds(200).Ticks, TimeSpan.FromSeconds(1).Ticks));
        timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(tickPeriod, tickPeriod) { KeepAlive = true });
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        if (ActiveKind is not { } kind)
        {
            Stop();
            return;
        }
        foreach (var (item, outcome) in Table(kind).ExpireLeases())
        {
            logger.LogWarning("{Unit} of job {Job} lost its lease (attempt {Attempt}): {Reason}", item.Describe(), JobId, item.Attempt, item.LastError);
            await RetriedOrGaveUpAsync(item, outcome, item.LastError!);
            if (state.State.Phase == IngestJobPhase.Failed) return;
        }
        await DispatchPendingAsync();
    }

    private async Task DispatchPendingAsync()
    {
        if (ActiveKind is not { } kind) return;
        var table = Table(kind);
        var started = table.Dispatch(Math.Max(0, MaxItemsOut - table.Count(WorkUnitState.Running)));
        if (started.Count == 0) return;
        // The attempt numbers are durable before any worker starts, so a restarted job never reuses one.
        await SaveAsync();
        await Task.WhenAll(started.Select(async item =>
        {
            try
            {
                await StartWorkerAsync(kind, item);
            }
            catch (Exception error) { logger.LogWarning(error, "Starting {Unit} of job {Job} failed; its lease will expire and it is retried", item.Describe(), JobId); }
        }));
    }

    private Task StartWorkerAsync(WorkKind kind, WorkUnitRecord item) => kind switch
    {
        WorkKind.Unit => GrainFactory.GetGrain<IIngestUnitGrain>($"{JobId}/{item.Index}/{item.Attempt}")
            .Start(new UnitAssignment(JobId, item.Index, item.Attempt, item.Input, UnitDirectory(item), Settings, item.Start, item.End)),
        WorkKind.ShardFetch => StartShardAsync(ShardStep.Fetch, item, FetchDirectory(item), null),
        WorkKind.ShardWrite => StartShardAsync(ShardStep.Write, item, FetchDirectory(ShardFetches[item.Index]),
            Layout.VerdictsFile(StepAttempts(IngestStep.Dedupe), item.Index)),
        _ => GrainFactory.GetGrain<IIngestStepGrain>($"{JobId}/step/{(IngestStep)item.Index}/{item.Attempt}").Start(StepAssignment((IngestStep)item.Index, item.Attempt)),
    };

    private StepAssignment StepAssignment(IngestStep step, int attempt) => step switch
    {
        IngestStep.Plan => new(JobId, step, attempt, state.State.Request!, [.. Units.Select(u => u.Input)], []),
        IngestStep.Finish => new(JobId, step, attempt, state.State.Request!, [], [.. Units.Select(UnitDirectory)],
            FinishStage.ImageOffsetShifts([.. Units.Select(u => new UnitPlacement(u.Start, u.Report!.DecompressedStart, u.Report.DecompressedBytes))])),
        IngestStep.Dedupe => new(JobId, step, attempt, state.State.Request!, [], [.. ShardFetches.Select(FetchDirectory)]),
        _ => new(JobId, step, attempt, state.State.Request!, [], [], FirstShardNumber: state.State.FirstShardNumber, ShardCount: ShardWrites.Count),
    };

    private Task StartShardAsync(ShardStep step, WorkUnitRecord unit, string directory, string? verdicts) =>
        GrainFactory.GetGrain<IIngestShardGrain>($"{JobId}/{step}/{unit.Index}/{unit.Attempt}").Start(new ShardAssignment(JobId, step, unit.Index, unit.Attempt,
            OutputDirectory, directory, verdicts, state.State.FirstShardNumber, state.State.Request!.Dataset!, Settings, DatasetLocation));

    private string UnitDirectory(WorkUnitRecord unit) => Layout.Unit(unit.Index, unit.Attempt).Path;

    private string FetchDirectory(WorkUnitRecord shard) => Layout.FetchDirectory(shard.Index, shard.Attempt);

    private async Task FailJobAsync(string error)
    {
        state.State.Phase = IngestJobPhase.Failed;
        state.State.Error ??= error;
        await SaveAsync();
    }

    /// <summary>The job is over: the timer goes, and its work folders after <see cref="IngestWorkerOptions.CompletedJobFolderDelay"/>.</summary>
    private async Task CompleteAsync()
    {
        state.State.Phase = IngestJobPhase.Completed;
        await SaveAsync();
        Stop();
        ScheduleWorkFolderRemoval();
    }

    /// <summary>
    /// The folders go a while after the completion was saved, not at once: until the storage has surely kept that save, a crash could
    /// bring the job back to a phase that needs them. A silo lost before then leaves them to the job's next activation.
    /// </summary>
    private void ScheduleWorkFolderRemoval()
    {
        if (!Directory.Exists(Layout.UnitsDirectory) && !Directory.Exists(Layout.ShardsDirectory)) return;
        var delay = workerOptions.Value.CompletedJobFolderDelay;
        if (delay <= TimeSpan.Zero)
        {
            RemoveWorkFolders();
            return;
        }
        folderRemoval ??= this.RegisterGrainTimer(_ =>
        {
            RemoveWorkFolders();
            folderRemoval?.Dispose();
            folderRemoval = null;
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions(delay, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private void RemoveWorkFolders()
    {
        foreach (var (folder, what) in new[] { (Layout.UnitsDirectory, "unit"), (Layout.ShardsDirectory, "shard") })
        {
            if (!Directory.Exists(folder)) continue;
            try { Directory.Delete(folder, recursive: true); }
            catch (IOException error) { logger.LogWarning(error, "Could not remove the {What} work files of job {Job} (a stale worker may still write there)", what, JobId); }
        }
    }

    private void Stop()
    {
        if (timer is null) return;
        timer.Dispose();
        timer = null;
        _ = ForgetWakeReminderAsync();
    }

    private IngestJobStatus Status()
    {
        var units = Units;
        var reports = units.Where(u => u.State == WorkUnitState.Done && u.Report is not null).Select(u => u.Report!).ToList();
        return new IngestJobStatus(JobId, state.State.Phase, units.Select(Describe).ToList(),
            reports.Sum(r => r.InputBytes), reports.Sum(r => r.Pages), reports.Sum(r => r.PairsPassed), state.State.PairsKept,
            StepAttempts(IngestStep.Finish), SecretRedaction.RedactUrlsInOptional(state.State.Error), ShardStatus());
    }

    private ShardPhaseStatus? ShardStatus()
    {
        var fetches = ShardFetches;
        if (fetches.Count == 0) return null;
        var writes = ShardWrites;
        var written = writes.Where(w => w.State == WorkUnitState.Done && w.ShardReport is not null).Select(w => w.ShardReport!).ToList();
        var running = (state.State.Phase == IngestJobPhase.WritingShards ? writes : fetches).Where(u => u.State != WorkUnitState.Done).Select(Describe).ToList();
        return new ShardPhaseStatus(fetches.Count, state.State.FirstShardNumber, fetches.Count(f => f.State == WorkUnitState.Done), written.Count,
            written.Sum(r => (long)r.Attempted), written.Sum(r => (long)r.Passed), StepAttempts(IngestStep.Dedupe),
            fetches.Concat(writes).Sum(u => Math.Max(0, u.Attempt - 1)), running);
    }

    private static WorkUnitStatus Describe(WorkUnitRecord u) => new(u.Index, u.Describe(), u.State, u.Attempt, u.Worker, SecretRedaction.RedactUrlsInOptional(u.LastError));
}
