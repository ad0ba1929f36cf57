using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Platform.Datasets;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Units;

namespace Platform.Grains.Ingestion;

/// <summary>Durable, small: inputs, settings and one row per unit and per shard step. Outputs live in files.</summary>
[GenerateSerializer]
public sealed class IngestJobState
{
    [Id(0)] public IngestJobPhase Phase { get; set; }
    [Id(1)] public IngestJobRequest? Request { get; set; }
    [Id(2)] public List<WorkUnitRecord> Units { get; set; } = [];
    [Id(3)] public int FinishAttempts { get; set; }
    [Id(4)] public long PairsKept { get; set; }
    [Id(5)] public string? Error { get; set; }
    [Id(6)] public List<WorkUnitRecord> ShardFetches { get; set; } = [];
    [Id(7)] public List<WorkUnitRecord> ShardWrites { get; set; } = [];
    [Id(8)] public int FirstShardNumber { get; set; }
    [Id(9)] public int DedupeAttempts { get; set; }
    [Id(10)] public int PlanAttempts { get; set; }
}

[GenerateSerializer]
public sealed class WorkUnitRecord
{
    [Id(0)] public int Index { get; set; }
    [Id(1)] public string Input { get; set; } = "";
    [Id(2)] public WorkUnitState State { get; set; }
    [Id(3)] public int Attempt { get; set; }
    [Id(4)] public string? Worker { get; set; }
    [Id(5)] public string? LastError { get; set; }
    [Id(6)] public UnitReport? Report { get; set; }
    [Id(7)] public ShardReport? ShardReport { get; set; }
    /// <summary>An extraction unit's part of its input, [Start, End) (see <see cref="InputUnit"/>); End is null when the unit reads the whole file.</summary>
    [Id(8)] public long Start { get; set; }
    [Id(9)] public long? End { get; set; }

    /// <summary>The input, with the part of it when the unit reads a part: `file.warc.gz [0, 268435456)`.</summary>
    public string Describe() => new InputUnit(Input, Start, End).ToString();
}

/// <summary>
/// Leases: a unit (an input to extract, or a shard to fetch or to write) is Running under an attempt number;
/// its worker heartbeats every third of the lease timeout. Lease expiry times are kept in memory only: the
/// grain's timer checks them, and after a reactivation (the job's own silo died) every running unit gets a
/// fresh lease, so live workers can check in before anything is redone. An expired unit goes back to Pending
/// with its attempt number already used, so a late completion of the lost attempt is refused and nothing is
/// counted twice; each attempt writes into a folder of its own, and the attempt accepted is the one whose
/// output the next phase reads. The two job-wide steps (frequency filter, dedupe) run in the job's own
/// background task and are retried from their inputs when they fail. After the job's silo dies the job comes
/// back on the next call (a live worker's heartbeat or a status poll) or, when nothing calls (every worker was
/// on that silo, or the job was in a job-wide step), at the latest when its wake reminder fires: a persistent
/// reminder registered while the job runs and removed when it is over.
/// </summary>
public sealed class IngestJobGrain(
    [PersistentState("ingestjob", PlatformStorage.GrainStateProvider)] IPersistentState<IngestJobState> state,
    IngestStorage storage,
    ILogger<IngestJobGrain> logger) : Grain, IIngestJobGrain, IRemindable
{
    public const string WakeReminder = "wake";
    /// <summary>Orleans' shortest reminder period by default: how long a job whose silo died may wait for a caller.</summary>
    public static readonly TimeSpan WakePeriod = TimeSpan.FromMinutes(1);

    private readonly Dictionary<int, DateTimeOffset> leases = [];
    private IGrainTimer? timer;
    private TimeSpan tickPeriod;
    private Task<List<InputUnit>>? planning;
    private Task<(long Kept, int FirstShard)>? finishing;
    private Task? deduping;

    private string JobId => this.GetPrimaryKeyString();
    private IngestJobSettings Settings => state.State.Request!.Settings;
    private string OutputDirectory => state.State.Request!.OutputDirectory;
    private string DatasetLocation => state.State.Request!.EffectiveDatasetLocation;
    private IngestJobLayout Layout => new(OutputDirectory);

    private List<WorkUnitRecord>? UnitsOf(IngestJobPhase phase) => phase switch
    {
        IngestJobPhase.Extracting => state.State.Units,
        IngestJobPhase.FetchingShards => state.State.ShardFetches,
        IngestJobPhase.WritingShards => state.State.ShardWrites,
        _ => null,
    };

    private static IngestJobPhase PhaseOf(ShardStep step) => step == ShardStep.Fetch ? IngestJobPhase.FetchingShards : IngestJobPhase.WritingShards;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Request is not null && state.State.Phase is not (IngestJobPhase.NotSubmitted or IngestJobPhase.Completed or IngestJobPhase.Failed))
        {
            foreach (var unit in UnitsOf(state.State.Phase) ?? [])
                if (unit.State == WorkUnitState.Running) leases[unit.Index] = DateTimeOffset.UtcNow + Settings.LeaseTimeout;
            StartTimer();
            await this.RegisterOrUpdateReminder(WakeReminder, WakePeriod, WakePeriod);
        }
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
        state.State.Request = request with { Inputs = request.Inputs.ToArray() };
        // One unit per input until planning cuts the big ones: planning reads them (a few reads per cut for per-record gzip, all of an
        // uncompressed WARC or CSV), which must not hold up this call or the job's status behind it.
        state.State.Units = inputs.Select((input, i) => new WorkUnitRecord { Index = i, Input = input }).ToList();
        state.State.Phase = IngestJobPhase.Planning;
        await state.WriteStateAsync();
        StartTimer();
        await this.RegisterOrUpdateReminder(WakeReminder, WakePeriod, WakePeriod);
        await AdvancePlanningAsync();
        return Status();
    }

    /// <summary>
    /// The work units, in input order and, within an input, in file order, so that reading them in unit order reads what one run over the
    /// inputs reads in the same order (the job's dedupe and text rules depend on it). An input that cannot be planned (unreadable,
    /// missing) is one unit, whose worker then reports the error as it always did.
    /// </summary>
    private static async Task<List<InputUnit>> PlanUnitsAsync(IReadOnlyList<string> inputs, IngestJobSettings settings, DumpInputs open, ILogger logger)
    {
        var units = new List<InputUnit>();
        foreach (var input in inputs)
        {
            try
            {
                await using var file = await open.OpenSeekableAsync(input, CancellationToken.None);
                units.AddRange(await InputSplitter.PlanAsync(input, file, settings.UnitBytes, IngestJobOptions.Extraction(settings).Warc));
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException or NotSupportedException or Azure.RequestFailedException)
            {
                logger.LogWarning(error, "Could not plan the work units of {Input}; it is read as one unit", input);
                units.Add(new InputUnit(input));
            }
        }
        return units;
    }

    public Task<IngestJobStatus> GetStatus() => Task.FromResult(Status());

    public Task<bool> Heartbeat(int unit, int attempt, string worker) => HeartbeatAsync(IngestJobPhase.Extracting, unit, attempt, worker);

    public Task<bool> ShardHeartbeat(ShardStep step, int shard, int attempt, string worker) => HeartbeatAsync(PhaseOf(step), shard, attempt, worker);

    public Task<bool> Complete(int unit, int attempt, UnitReport report) =>
        CompleteAsync(IngestJobPhase.Extracting, unit, attempt, record => record.Report = report);

    public Task<bool> ShardComplete(ShardStep step, int shard, int attempt, ShardReport report) =>
        CompleteAsync(PhaseOf(step), shard, attempt, record => record.ShardReport = report);

    public Task Fail(int unit, int attempt, string error) => FailAsync(IngestJobPhase.Extracting, unit, attempt, error);

    public Task ShardFail(ShardStep step, int shard, int attempt, string error) => FailAsync(PhaseOf(step), shard, attempt, error);

    private Task<bool> HeartbeatAsync(IngestJobPhase phase, int unit, int attempt, string worker)
    {
        if (!IsCurrent(phase, unit, attempt, out var record)) return Task.FromResult(false);
        record.Worker = worker;
        leases[unit] = DateTimeOffset.UtcNow + Settings.LeaseTimeout;
        return Task.FromResult(true);
    }

    private async Task<bool> CompleteAsync(IngestJobPhase phase, int unit, int attempt, Action<WorkUnitRecord> keepReport)
    {
        if (UnitsOf(phase)?.ElementAtOrDefault(unit) is { State: WorkUnitState.Done } done) return done.Attempt == attempt;
        if (!IsCurrent(phase, unit, attempt, out var record)) return false;
        record.State = WorkUnitState.Done;
        keepReport(record);
        record.LastError = null;
        leases.Remove(unit);
        if (UnitsOf(phase)!.All(u => u.State == WorkUnitState.Done))
        {
            state.State.Phase = phase switch
            {
                IngestJobPhase.Extracting => IngestJobPhase.Finishing,
                IngestJobPhase.FetchingShards => IngestJobPhase.Deduping,
                _ => IngestJobPhase.Completed,
            };
            leases.Clear();
            if (phase == IngestJobPhase.WritingShards) await WriteFunnelAsync();
        }
        await state.WriteStateAsync();
        // A job-wide step starts now rather than at the next tick.
        switch (state.State.Phase)
        {
            case IngestJobPhase.Completed: Complete(); break;
            case IngestJobPhase.Finishing: await AdvanceFinishAsync(); break;
            case IngestJobPhase.Deduping: await AdvanceDedupeAsync(); break;
        }
        return true;
    }

    /// <summary>
    /// Every shard is committed, so the dataset gets the job's funnel. A failure to write it
    /// fails the job with the reason (the committed shards stay as they are).
    /// </summary>
    private async Task WriteFunnelAsync()
    {
        var layout = Layout;
        var location = DatasetLocation;
        var jobId = JobId;
        var (first, shards) = (state.State.FirstShardNumber, state.State.ShardWrites.Count);
        try
        {
            await Task.Run(async () => await FunnelStage.WriteFunnelAsync(await storage.OpenDatasetAsync(location, CancellationToken.None), layout, jobId,
                first, shards, CancellationToken.None));
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException or System.Text.Json.JsonException
            or Azure.RequestFailedException)
        {
            logger.LogError(error, "Could not write the funnel of job {Job} into its dataset", JobId);
            state.State.Phase = IngestJobPhase.Failed;
            state.State.Error = $"Every shard is committed, but the funnel could not be written into the dataset: {error.Message}";
        }
    }

    private async Task FailAsync(IngestJobPhase phase, int unit, int attempt, string error)
    {
        if (!IsCurrent(phase, unit, attempt, out var record)) return;
        leases.Remove(unit);
        await GiveUpOrRetryAsync(record, error);
    }

    private bool IsCurrent(IngestJobPhase phase, int unit, int attempt, out WorkUnitRecord record)
    {
        record = UnitsOf(phase)?.ElementAtOrDefault(unit)!;
        return state.State.Phase == phase && record is { State: WorkUnitState.Running } && record.Attempt == attempt;
    }

    private async Task GiveUpOrRetryAsync(WorkUnitRecord record, string error)
    {
        record.LastError = error;
        if (record.Attempt >= Settings.MaxAttempts)
        {
            record.State = WorkUnitState.Failed;
            state.State.Phase = IngestJobPhase.Failed;
            state.State.Error = $"{record.Describe()} failed {record.Attempt} times; last: {error}";
        }
        else record.State = WorkUnitState.Pending;
        await state.WriteStateAsync();
    }

    private void StartTimer()
    {
        // Each second at most, so a finished step moves on promptly; kept alive because during the job-wide
        // steps no worker calls in, and an idle-collected job would stall.
        tickPeriod = TimeSpan.FromTicks(Math.Clamp(Settings.LeaseTimeout.Ticks / 4, TimeSpan.FromMilliseconds(200).Ticks, TimeSpan.FromSeconds(1).Ticks));
        timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(tickPeriod, tickPeriod) { KeepAlive = true });
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        switch (state.State.Phase)
        {
            case IngestJobPhase.Extracting or IngestJobPhase.FetchingShards or IngestJobPhase.WritingShards:
                var phase = state.State.Phase;
                await ExpireLeasesAsync();
                if (state.State.Phase == phase) await DispatchPendingAsync();
                break;
            case IngestJobPhase.Planning:
                await AdvancePlanningAsync();
                break;
            case IngestJobPhase.Finishing:
                await AdvanceFinishAsync();
                break;
            case IngestJobPhase.Deduping:
                await AdvanceDedupeAsync();
                break;
            default:
                Stop();
                break;
        }
    }

    private async Task ExpireLeasesAsync()
    {
        var now = DateTimeOffset.UtcNow;
        var phase = state.State.Phase;
        foreach (var unit in UnitsOf(phase)!.Where(u => u.State == WorkUnitState.Running).ToList())
        {
            if (!leases.TryGetValue(unit.Index, out var expires) || expires > now) continue;
            leases.Remove(unit.Index);
            logger.LogWarning("{Unit} of job {Job} lost its lease (attempt {Attempt} on {Worker}); it is redone", unit.Describe(), JobId, unit.Attempt, unit.Worker);
            await GiveUpOrRetryAsync(unit, $"lease expired on {unit.Worker ?? "an unknown worker"}");
            if (state.State.Phase != phase) return;
        }
    }

    private async Task DispatchPendingAsync()
    {
        var pending = UnitsOf(state.State.Phase)!.Where(u => u.State == WorkUnitState.Pending).ToList();
        if (pending.Count == 0) return;
        foreach (var unit in pending)
        {
            unit.State = WorkUnitState.Running;
            unit.Attempt++;
            unit.Worker = null;
            leases[unit.Index] = DateTimeOffset.UtcNow + Settings.LeaseTimeout;
        }
        // The attempt numbers are durable before any worker starts, so a restarted job never reuses one.
        await state.WriteStateAsync();
        var phase = state.State.Phase;
        await Task.WhenAll(pending.Select(async unit =>
        {
            try
            {
                switch (phase)
                {
                    case IngestJobPhase.Extracting:
                        await GrainFactory.GetGrain<IIngestUnitGrain>($"{JobId}/{unit.Index}/{unit.Attempt}")
                            .Start(new UnitAssignment(JobId, unit.Index, unit.Attempt, unit.Input, UnitDirectory(unit), Settings, unit.Start, unit.End));
                        break;
                    case IngestJobPhase.FetchingShards:
                        await StartShardAsync(ShardStep.Fetch, unit, FetchDirectory(unit), null);
                        break;
                    default:
                        await StartShardAsync(ShardStep.Write, unit, FetchDirectory(state.State.ShardFetches[unit.Index]),
                            Layout.VerdictsFile(state.State.DedupeAttempts, unit.Index));
                        break;
                }
            }
            catch (Exception error) { logger.LogWarning(error, "Starting {Unit} of job {Job} failed; its lease will expire and it is retried", unit.Describe(), JobId); }
        }));
    }

    private Task StartShardAsync(ShardStep step, WorkUnitRecord unit, string directory, string? verdicts) =>
        GrainFactory.GetGrain<IIngestShardGrain>($"{JobId}/{step}/{unit.Index}/{unit.Attempt}").Start(new ShardAssignment(JobId, step, unit.Index, unit.Attempt,
            OutputDirectory, directory, verdicts, state.State.FirstShardNumber, state.State.Request!.Dataset!, Settings, DatasetLocation));

    private string UnitDirectory(WorkUnitRecord unit) => Layout.Unit(unit.Index, unit.Attempt).Path;

    private string FetchDirectory(WorkUnitRecord shard) => Layout.FetchDirectory(shard.Index, shard.Attempt);

    /// <summary>Plans the work units off the scheduler (see <see cref="PlanUnitsAsync"/>), then starts extracting them; a failed planning is retried from the inputs.</summary>
    private async Task AdvancePlanningAsync()
    {
        if (planning is null)
        {
            if (state.State.PlanAttempts >= Settings.MaxAttempts)
            {
                await FailJobAsync($"Planning the work units failed {state.State.PlanAttempts} times.");
                return;
            }
            state.State.PlanAttempts++;
            await state.WriteStateAsync();
            var inputs = state.State.Units.Select(u => u.Input).ToList();
            var (settings, open, log) = (Settings, storage.Inputs, logger);
            planning = Task.Run(() => PlanUnitsAsync(inputs, settings, open, log));
            TickWhenDone(planning);
            return;
        }
        if (!planning.IsCompleted) return;
        var planned = planning;
        planning = null;
        if (planned.IsCompletedSuccessfully)
        {
            state.State.Units = planned.Result.Select((unit, i) => new WorkUnitRecord { Index = i, Input = unit.Input, Start = unit.Start, End = unit.End }).ToList();
            state.State.Phase = IngestJobPhase.Extracting;
            state.State.Error = null;
            await state.WriteStateAsync();
            await DispatchPendingAsync();
        }
        else
        {
            state.State.Error = planned.Exception?.GetBaseException().Message;
            logger.LogWarning(planned.Exception, "Planning attempt {Attempt} of job {Job} failed; it is retried", state.State.PlanAttempts, JobId);
            await state.WriteStateAsync();
        }
    }

    private async Task AdvanceFinishAsync()
    {
        if (finishing is null)
        {
            if (state.State.FinishAttempts >= Settings.MaxAttempts)
            {
                await FailJobAsync($"The final phase failed {state.State.FinishAttempts} times.");
                return;
            }
            state.State.FinishAttempts++;
            await state.WriteStateAsync();
            var request = new FinishRequest(Layout, state.State.FinishAttempts, state.State.Units.Select(u => Layout.Unit(u.Index, u.Attempt)).ToList(),
                IngestJobOptions.Extraction(Settings),
                FinishStage.ImageOffsetShifts(state.State.Units.Select(u => new UnitPlacement(u.Start, u.Report!.DecompressedStart, u.Report.DecompressedBytes)).ToList()));
            var grains = GrainFactory;
            var job = state.State.Request!;
            var jobId = JobId;
            finishing = Task.Run(() => ClusterIngestStages.FinishAsync(grains, storage, jobId, job, request, CancellationToken.None));
            TickWhenDone(finishing);
            return;
        }
        if (!finishing.IsCompleted) return;
        var finished = finishing;
        finishing = null;
        if (finished.IsCompletedSuccessfully)
        {
            var (kept, first) = finished.Result;
            state.State.PairsKept = kept;
            state.State.Error = null;
            var shards = state.State.Request!.Dataset is null ? 0 : IngestJobOptions.ShardCount(kept, Settings);
            if (shards == 0) state.State.Phase = IngestJobPhase.Completed;
            else
            {
                state.State.FirstShardNumber = first;
                state.State.ShardFetches = Enumerable.Range(0, shards).Select(i => new WorkUnitRecord { Index = i, Input = $"shard {first + i:D5} (fetch)" }).ToList();
                state.State.Phase = IngestJobPhase.FetchingShards;
            }
            await state.WriteStateAsync();
            try { Directory.Delete(Layout.UnitsDirectory, recursive: true); }
            catch (IOException error) { logger.LogWarning(error, "Could not remove the unit files of job {Job} (a stale worker may still write there)", JobId); }
            if (state.State.Phase == IngestJobPhase.Completed) Complete();
            else await DispatchPendingAsync();
        }
        else
        {
            state.State.Error = finished.Exception?.GetBaseException().Message;
            logger.LogWarning(finished.Exception, "Final phase attempt {Attempt} of job {Job} failed; it is retried", state.State.FinishAttempts, JobId);
            await state.WriteStateAsync();
        }
    }

    private async Task AdvanceDedupeAsync()
    {
        if (deduping is null)
        {
            if (state.State.DedupeAttempts >= Settings.MaxAttempts)
            {
                await FailJobAsync($"Dedupe failed {state.State.DedupeAttempts} times.");
                return;
            }
            state.State.DedupeAttempts++;
            await state.WriteStateAsync();
            var (grains, jobId, layout, attempt, settings) = (GrainFactory, JobId, Layout, state.State.DedupeAttempts, Settings);
            var fetches = state.State.ShardFetches.Select(FetchDirectory).ToList();
            deduping = Task.Run(() => ClusterIngestStages.DecideDedupeAsync(grains, jobId, layout, attempt, fetches, settings, CancellationToken.None));
            TickWhenDone(deduping);
            return;
        }
        if (!deduping.IsCompleted) return;
        var decided = deduping;
        deduping = null;
        if (decided.IsCompletedSuccessfully)
        {
            // The writes read the verdicts of this attempt (state.DedupeAttempts).
            state.State.Error = null;
            state.State.ShardWrites = state.State.ShardFetches
                .Select(f => new WorkUnitRecord { Index = f.Index, Input = $"shard {state.State.FirstShardNumber + f.Index:D5} (write)" }).ToList();
            state.State.Phase = IngestJobPhase.WritingShards;
            await state.WriteStateAsync();
            await DispatchPendingAsync();
        }
        else
        {
            state.State.Error = decided.Exception?.GetBaseException().Message;
            logger.LogWarning(decided.Exception, "Dedupe attempt {Attempt} of job {Job} failed; it is retried", state.State.DedupeAttempts, JobId);
            await state.WriteStateAsync();
        }
    }

    /// <summary>
    /// Moves on as soon as a background step ends instead of at the next tick, by bringing the tick forward
    /// (ticks never interleave with calls, so the step's result is taken over exactly once).
    /// </summary>
    private void TickWhenDone(Task step) =>
        step.ContinueWith(_ => timer?.Change(TimeSpan.Zero, tickPeriod), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Current);

    private async Task FailJobAsync(string error)
    {
        state.State.Phase = IngestJobPhase.Failed;
        state.State.Error ??= error;
        await state.WriteStateAsync();
    }

    /// <summary>The job is over: its work folders go, and so does the timer.</summary>
    private void Complete()
    {
        if (Directory.Exists(Layout.ShardsDirectory))
        {
            try { Directory.Delete(Layout.ShardsDirectory, recursive: true); }
            catch (IOException error) { logger.LogWarning(error, "Could not remove the shard work files of job {Job} (a stale worker may still write there)", JobId); }
        }
        Stop();
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
        var units = state.State.Units;
        var reports = units.Where(u => u.State == WorkUnitState.Done && u.Report is not null).Select(u => u.Report!).ToList();
        return new IngestJobStatus(JobId, state.State.Phase, units.Select(Describe).ToList(),
            reports.Sum(r => r.InputBytes), reports.Sum(r => r.Pages), reports.Sum(r => r.PairsPassed), state.State.PairsKept,
            state.State.FinishAttempts, state.State.Error, ShardStatus());
    }

    private ShardPhaseStatus? ShardStatus()
    {
        var fetches = state.State.ShardFetches;
        if (fetches.Count == 0) return null;
        var writes = state.State.ShardWrites;
        var written = writes.Where(w => w.State == WorkUnitState.Done && w.ShardReport is not null).Select(w => w.ShardReport!).ToList();
        var running = (state.State.Phase == IngestJobPhase.WritingShards ? writes : fetches).Where(u => u.State != WorkUnitState.Done).Select(Describe).ToList();
        return new ShardPhaseStatus(fetches.Count, state.State.FirstShardNumber, fetches.Count(f => f.State == WorkUnitState.Done), written.Count,
            written.Sum(r => (long)r.Attempted), written.Sum(r => (long)r.Passed), state.State.DedupeAttempts,
            fetches.Concat(writes).Sum(u => Math.Max(0, u.Attempt - 1)), running);
    }

    private static WorkUnitStatus Describe(WorkUnitRecord u) => new(u.Index, u.Describe(), u.State, u.Attempt, u.Worker, u.LastError);
}
