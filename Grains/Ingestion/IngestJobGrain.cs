using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Platform.Grains.Ingestion;

/// <summary>Durable, small: inputs, settings and one row per unit. Outputs live in files.</summary>
[GenerateSerializer]
public sealed class IngestJobState
{
    [Id(0)] public IngestJobPhase Phase { get; set; }
    [Id(1)] public IngestJobRequest? Request { get; set; }
    [Id(2)] public List<WorkUnitRecord> Units { get; set; } = [];
    [Id(3)] public int FinishAttempts { get; set; }
    [Id(4)] public long PairsKept { get; set; }
    [Id(5)] public string? Error { get; set; }
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
}

/// <summary>
/// Leases: a unit is Running under an attempt number; its worker heartbeats every third of the lease
/// timeout. Lease expiry times are kept in memory only: the grain's timer checks them, and after a
/// reactivation (the job's own silo died) every running unit gets a fresh lease, so live workers can
/// check in before anything is redone. An expired unit goes back to Pending with its attempt number
/// already used, so a late completion of the lost attempt is refused and nothing is counted twice.
/// After the job's silo dies the job comes back on the next call: a live worker's heartbeat or a status poll.
/// </summary>
public sealed class IngestJobGrain(
    [PersistentState("ingestjob", PlatformStorage.GrainStateProvider)] IPersistentState<IngestJobState> state,
    ILogger<IngestJobGrain> logger) : Grain, IIngestJobGrain
{
    private readonly Dictionary<int, DateTimeOffset> leases = [];
    private IGrainTimer? timer;
    private Task<long>? finishing;

    private string JobId => this.GetPrimaryKeyString();
    private IngestJobSettings Settings => state.State.Request!.Settings;
    private string UnitsDirectory => Path.Combine(state.State.Request!.OutputDirectory, ".units");

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Phase is IngestJobPhase.Extracting or IngestJobPhase.Finishing)
        {
            foreach (var unit in state.State.Units.Where(u => u.State == WorkUnitState.Running))
                leases[unit.Index] = DateTimeOffset.UtcNow + Settings.LeaseTimeout;
            StartTimer();
        }
        return Task.CompletedTask;
    }

    public async Task<IngestJobStatus> Submit(IngestJobRequest request)
    {
        if (state.State.Request is { } existing)
        {
            if (!existing.Inputs.SequenceEqual(request.Inputs) || existing.OutputDirectory != request.OutputDirectory)
                throw new InvalidOperationException($"Ingest job '{JobId}' already exists with other inputs or another output directory.");
            return Status();
        }
        if (request.Inputs.Count == 0) throw new ArgumentException("An ingest job needs at least one input.", nameof(request));
        if (string.IsNullOrWhiteSpace(request.OutputDirectory)) throw new ArgumentException("An ingest job needs an output directory.", nameof(request));
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Settings.MaxAttempts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Settings.LeaseTimeout, TimeSpan.FromSeconds(1));
        // The state is stored as JSON naming each value's runtime type, and only known types are read back:
        // a caller's list type (a collection expression's hidden one, say) would make the job unreadable after a restart.
        state.State.Request = request with { Inputs = request.Inputs.ToArray() };
        state.State.Units = request.Inputs.Select((input, i) => new WorkUnitRecord { Index = i, Input = input }).ToList();
        state.State.Phase = IngestJobPhase.Extracting;
        await state.WriteStateAsync();
        StartTimer();
        await DispatchPendingAsync();
        return Status();
    }

    public Task<IngestJobStatus> GetStatus() => Task.FromResult(Status());

    public Task<bool> Heartbeat(int unit, int attempt, string worker)
    {
        if (!IsCurrent(unit, attempt, out var record)) return Task.FromResult(false);
        record.Worker = worker;
        leases[unit] = DateTimeOffset.UtcNow + Settings.LeaseTimeout;
        return Task.FromResult(true);
    }

    public async Task<bool> Complete(int unit, int attempt, UnitReport report)
    {
        if (state.State.Units.ElementAtOrDefault(unit) is { State: WorkUnitState.Done } done) return done.Attempt == attempt;
        if (!IsCurrent(unit, attempt, out var record)) return false;
        record.State = WorkUnitState.Done;
        record.Report = report;
        record.LastError = null;
        leases.Remove(unit);
        if (state.State.Units.All(u => u.State == WorkUnitState.Done)) state.State.Phase = IngestJobPhase.Finishing;
        await state.WriteStateAsync();
        return true;
    }

    public async Task Fail(int unit, int attempt, string error)
    {
        if (!IsCurrent(unit, attempt, out var record)) return;
        leases.Remove(unit);
        await GiveUpOrRetryAsync(record, error);
    }

    private bool IsCurrent(int unit, int attempt, out WorkUnitRecord record)
    {
        record = state.State.Units.ElementAtOrDefault(unit)!;
        return state.State.Phase == IngestJobPhase.Extracting && record is { State: WorkUnitState.Running } && record.Attempt == attempt;
    }

    private async Task GiveUpOrRetryAsync(WorkUnitRecord record, string error)
    {
        record.LastError = error;
        if (record.Attempt >= Settings.MaxAttempts)
        {
            record.State = WorkUnitState.Failed;
            state.State.Phase = IngestJobPhase.Failed;
            state.State.Error = $"Unit {record.Index} ({record.Input}) failed {record.Attempt} times; last: {error}";
        }
        else record.State = WorkUnitState.Pending;
        await state.WriteStateAsync();
    }

    private void StartTimer()
    {
        // Each second at most, so a finished extraction moves on to its final phase promptly; kept alive
        // because during the final phase no worker calls in, and an idle-collected job would stall.
        var period = TimeSpan.FromTicks(Math.Clamp(Settings.LeaseTimeout.Ticks / 4, TimeSpan.FromMilliseconds(200).Ticks, TimeSpan.FromSeconds(1).Ticks));
        timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        switch (state.State.Phase)
        {
            case IngestJobPhase.Extracting:
                await ExpireLeasesAsync();
                if (state.State.Phase == IngestJobPhase.Extracting) await DispatchPendingAsync();
                break;
            case IngestJobPhase.Finishing:
                await AdvanceFinishAsync();
                break;
            default:
                Stop();
                break;
        }
    }

    private async Task ExpireLeasesAsync()
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var unit in state.State.Units.Where(u => u.State == WorkUnitState.Running).ToList())
        {
            if (!leases.TryGetValue(unit.Index, out var expires) || expires > now) continue;
            leases.Remove(unit.Index);
            logger.LogWarning("Unit {Unit} of job {Job} lost its lease (attempt {Attempt} on {Worker}); it is redone", unit.Index, JobId, unit.Attempt, unit.Worker);
            await GiveUpOrRetryAsync(unit, $"lease expired on {unit.Worker ?? "an unknown worker"}");
            if (state.State.Phase != IngestJobPhase.Extracting) return;
        }
    }

    private async Task DispatchPendingAsync()
    {
        var pending = state.State.Units.Where(u => u.State == WorkUnitState.Pending).ToList();
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
        await Task.WhenAll(pending.Select(async unit =>
        {
            var assignment = new UnitAssignment(JobId, unit.Index, unit.Attempt, unit.Input, UnitDirectory(unit), Settings);
            try { await GrainFactory.GetGrain<IIngestUnitGrain>($"{JobId}/{unit.Index}/{unit.Attempt}").Start(assignment); }
            catch (Exception error) { logger.LogWarning(error, "Starting unit {Unit} of job {Job} failed; its lease will expire and it is retried", unit.Index, JobId); }
        }));
    }

    private string UnitDirectory(WorkUnitRecord unit) => Path.Combine(UnitsDirectory, $"{unit.Index:D5}.{unit.Attempt}");

    private async Task AdvanceFinishAsync()
    {
        if (finishing is null)
        {
            if (state.State.FinishAttempts >= Settings.MaxAttempts)
            {
                state.State.Phase = IngestJobPhase.Failed;
                state.State.Error ??= $"The final phase failed {state.State.FinishAttempts} times.";
                await state.WriteStateAsync();
                return;
            }
            state.State.FinishAttempts++;
            await state.WriteStateAsync();
            var request = new FinishRequest(JobId, state.State.FinishAttempts, state.State.Units.Select(UnitDirectory).ToList(),
                state.State.Request!.OutputDirectory, IngestUnitExtraction.Options(Settings));
            var grains = GrainFactory;
            finishing = Task.Run(() => IngestJobFinisher.RunAsync(grains, request, CancellationToken.None));
            return;
        }
        if (!finishing.IsCompleted) return;
        var finished = finishing;
        finishing = null;
        if (finished.IsCompletedSuccessfully)
        {
            state.State.PairsKept = finished.Result;
            state.State.Phase = IngestJobPhase.Completed;
            state.State.Error = null;
            await state.WriteStateAsync();
            try { Directory.Delete(UnitsDirectory, recursive: true); }
            catch (IOException error) { logger.LogWarning(error, "Could not remove the unit files of job {Job} (a stale worker may still write there)", JobId); }
            Stop();
        }
        else
        {
            state.State.Error = finished.Exception?.GetBaseException().Message;
            logger.LogWarning(finished.Exception, "Final phase attempt {Attempt} of job {Job} failed; it is retried", state.State.FinishAttempts, JobId);
            await state.WriteStateAsync();
        }
    }

    private void Stop()
    {
        timer?.Dispose();
        timer = null;
    }

    private IngestJobStatus Status()
    {
        var units = state.State.Units;
        var reports = units.Where(u => u.State == WorkUnitState.Done && u.Report is not null).Select(u => u.Report!).ToList();
        return new IngestJobStatus(JobId, state.State.Phase,
            units.Select(u => new WorkUnitStatus(u.Index, u.Input, u.State, u.Attempt, u.Worker, u.LastError)).ToList(),
            reports.Sum(r => r.InputBytes), reports.Sum(r => r.Pages), reports.Sum(r => r.PairsPassed), state.State.PairsKept,
            state.State.FinishAttempts, state.State.Error);
    }
}
