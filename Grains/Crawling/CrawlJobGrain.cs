using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Grains.Ingestion;
using Platform.Grains.Work;
using Platform.Ingestion.Crawling;
using Polly;

namespace Platform.Grains.Crawling;

/// <summary>Durable: the request, the frontier and one row per slice. Page and image bytes live in the WARC files.</summary>
[GenerateSerializer]
public sealed class CrawlJobState
{
    [Id(0)] public CrawlJobPhase Phase { get; set; }
    [Id(1)] public CrawlJobRequest? Request { get; set; }
    [Id(2)] public List<string> AllowedDomains { get; set; } = [];
    [Id(3)] public List<string> Seen { get; set; } = [];
    [Id(4)] public List<CrawlTargetRecord> Pending { get; set; } = [];
    [Id(5)] public int PagesAdmitted { get; set; }
    [Id(6)] public List<CrawlSliceRecord> Slices { get; set; } = [];
    [Id(7)] public Dictionary<string, long> Stats { get; set; } = [];
    [Id(8)] public List<string> WarcFiles { get; set; } = [];
    [Id(9)] public string? IngestJobId { get; set; }
    [Id(10)] public string? Error { get; set; }
}

/// <summary>A slice of the frontier: a row of the crawl's work table. Its targets are dropped once it is finished.</summary>
[GenerateSerializer]
public sealed class CrawlSliceRecord : WorkItem
{
    [Id(0)] public List<CrawlTargetRecord> Targets { get; set; } = [];
}

/// <summary>
/// Drives a crawl: takes slices off the frontier, hands each to a <see cref="ICrawlSliceGrain"/> on some
/// silo, folds the links and images a slice reports back into the frontier (where the bounds apply),
/// and submits the WARC files to an <see cref="IIngestJobGrain"/> when nothing is pending or out.
/// The slices are the items of a <see cref="WorkTable{TItem}"/>: a slice whose worker stops heartbeating, or whose fetches stop
/// advancing, is handed out again under a new attempt number; a late report from the old attempt is refused, so nothing is counted twice.
/// The frontier lives in the grain state, which suits crawls of up to some hundred thousand URLs; a larger
/// crawl would keep its seen-set in partitioned grains like the dedupe sets.
/// </summary>
public sealed class CrawlJobGrain(
    [PersistentState("crawljob", PlatformStorage.GrainStateProvider)] IPersistentState<CrawlJobState> state,
    IOptions<StorageRetryOptions> storageRetry,
    ILogger<CrawlJobGrain> logger) : Grain, ICrawlJobGrain
{
    private readonly ResiliencePipeline storageWrites = StorageRetry.Pipeline(storageRetry.Value, logger, "Writing a crawl job's state");

    /// <summary>A storage outage is waited out; a write given up deactivates the job, so the attempt numbers it carried are forgotten.</summary>
    private Task WriteStateAsync() => storageWrites.WriteStateAsync(state, this);

    private static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(1);
    private WorkTable<CrawlSliceRecord>? slices;
    private IGrainTimer? timer;

    private string JobId => this.GetPrimaryKeyString();
    private CrawlJobRequest Request => state.State.Request!;
    private CrawlJobSettings Settings => Request.Settings;
    private string WarcDirectory => Path.Combine(Request.OutputDirectory, "warc");

    private WorkTable<CrawlSliceRecord> Slices => slices ??=
        new(state.State.Slices, new WorkTableOptions(Settings.LeaseTimeout, Settings.SliceTimeout, Settings.MaxAttempts), TimeProvider.System);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Phase is CrawlJobPhase.Crawling or CrawlJobPhase.Ingesting)
        {
            // Leases are not durable: after a reactivation every slice out gets a fresh one.
            Slices.ResumeLeases();
            StartTimer();
        }
        return Task.CompletedTask;
    }

    public async Task<CrawlJobStatus> Start(CrawlJobRequest request)
    {
        if (state.State.Request is { } existing)
        {
            if (!existing.Seeds.SequenceEqual(request.Seeds) || existing.OutputDirectory != request.OutputDirectory || existing.Dataset != request.Dataset)
                throw new InvalidOperationException($"Crawl '{JobId}' already exists with other seeds, output or dataset.");
            return await GetStatus();
        }
        if (request.Seeds.Count == 0) throw new ArgumentException("A crawl needs at least one seed URL.", nameof(request));
        if (string.IsNullOrWhiteSpace(request.Dataset)) throw new ArgumentException("A crawl needs a target dataset.", nameof(request));
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Settings.SliceSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Settings.MaxAttempts, 1);
        var frontier = new CrawlFrontier(request.Seeds, request.Settings.ToOptions(request.Settings.AllowedDomains));
        state.State.Request = request;
        state.State.AllowedDomains = [.. frontier.Scope.Domains];
        Save(frontier);
        state.State.Phase = CrawlJobPhase.Crawling;
        await WriteStateAsync();
        StartTimer();
        await Jobs.JobDirectory.RecordAsync(GrainFactory, Jobs.JobKind.Crawl, JobId, logger);
        await DispatchAsync();
        return await GetStatus();
    }

    public async Task<CrawlJobStatus> GetStatus()
    {
        IngestJobStatus? ingest = null;
        if (state.State.IngestJobId is { } ingestId)
        {
            ingest = await GrainFactory.GetGrain<IIngestJobGrain>(ingestId).GetStatus();
            if (state.State.Phase == CrawlJobPhase.Ingesting && ingest.IsOver)
            {
                state.State.Phase = ingest.Phase == IngestJobPhase.Completed ? CrawlJobPhase.Completed : CrawlJobPhase.Failed;
                state.State.Error = ingest.Error;
                await WriteStateAsync();
                Stop();
            }
        }
        var slices = state.State.Slices;
        return new CrawlJobStatus(JobId, state.State.Phase, state.State.PagesAdmitted, state.State.Pending.Count,
            slices.Count(s => s.IsFinished), slices.Count(s => !s.IsFinished), new Dictionary<string, long>(state.State.Stats),
            [.. state.State.WarcFiles], state.State.IngestJobId, ingest, state.State.Error);
    }

    public Task<IReadOnlyList<CrawlHostLoad>> GetHosts(int take)
    {
        var hosts = new Dictionary<string, (int Seen, int Pending, int InFlight)>(StringComparer.OrdinalIgnoreCase);
        void Count(string url, int seen, int pending, int inFlight)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return;
            var origin = uri.GetLeftPart(UriPartial.Authority);
            var counts = hosts.GetValueOrDefault(origin);
            hosts[origin] = (counts.Seen + seen, counts.Pending + pending, counts.InFlight + inFlight);
        }
        foreach (var url in state.State.Seen) Count(url, 1, 0, 0);
        foreach (var target in state.State.Pending) Count(target.Url, 0, 1, 0);
        foreach (var target in state.State.Slices.Where(s => !s.IsFinished).SelectMany(s => s.Targets)) Count(target.Url, 0, 0, 1);
        return Task.FromResult<IReadOnlyList<CrawlHostLoad>>([.. hosts
            .OrderByDescending(h => h.Value.Pending + h.Value.InFlight).ThenByDescending(h => h.Value.Seen).ThenBy(h => h.Key, StringComparer.Ordinal)
            .Take(Math.Max(0, take))
            .Select(h => new CrawlHostLoad(h.Key, h.Value.Seen, h.Value.Pending, h.Value.InFlight))]);
    }

    public Task<bool> Heartbeat(WorkItemId item, int attempt, WorkProgress progress) =>
        Task.FromResult(item.Kind == WorkKind.CrawlSlice && state.State.Phase == CrawlJobPhase.Crawling
            && Slices.Heartbeat(item.Index, attempt, progress.Worker, progress.Done));

    public async Task<bool> Complete(WorkItemId item, int attempt, WorkReport report)
    {
        if (item.Kind != WorkKind.CrawlSlice || report is not SliceReport slice || state.State.Phase != CrawlJobPhase.Crawling
            || Slices.Complete(item.Index, attempt) != WorkOutcome.Accepted)
            return false;
        var frontier = Load();
        foreach (var discovery in slice.Discoveries)
            frontier.AddDiscovered(discovery.Target.ToTarget(), new CrawlDiscovery(discovery.Links, discovery.Images));
        Save(frontier);
        foreach (var (name, count) in slice.Stats.Concat(frontier.Stats.Snapshot()))
            state.State.Stats[name] = state.State.Stats.GetValueOrDefault(name) + count;
        state.State.WarcFiles.AddRange(slice.WarcFiles);
        // The targets are no longer needed once their discoveries are in the frontier; the slice row stays for the status.
        Slices[item.Index].Targets = [];
        await WriteStateAsync();
        await DispatchAsync();
        return true;
    }

    public async Task Fail(WorkItemId item, int attempt, string error)
    {
        if (item.Kind != WorkKind.CrawlSlice || state.State.Request is null) return;
        var outcome = Slices.Fail(item.Index, attempt, error);
        if (outcome == WorkOutcome.Refused) return;
        logger.LogWarning("Slice {Slice} attempt {Attempt} of crawl {Job} failed: {Error}", item.Index, attempt, JobId, error);
        await RetriedOrGaveUpAsync(Slices[item.Index], outcome);
    }

    private async Task RetriedOrGaveUpAsync(CrawlSliceRecord record, WorkOutcome outcome)
    {
        if (outcome == WorkOutcome.GaveUp) GiveUpTargets(record);
        await WriteStateAsync();
        await DispatchAsync();
    }

    /// <summary>One slice's targets are lost, not the crawl: counted, and the crawl goes on.</summary>
    private void GiveUpTargets(CrawlSliceRecord record)
    {
        state.State.Stats["slice_failed_targets"] = state.State.Stats.GetValueOrDefault("slice_failed_targets") + record.Targets.Count;
        record.Targets = [];
    }

    /// <summary>Cuts new slices off the frontier while fewer than the limit are out, then hands out every pending slice.</summary>
    private async Task DispatchAsync()
    {
        if (state.State.Phase != CrawlJobPhase.Crawling) return;
        var frontier = Load();
        var cut = false;
        while (state.State.Slices.Count(s => !s.IsFinished) < Settings.MaxSlicesInFlight && frontier.Pending.Count > 0)
        {
            Slices.Add(new CrawlSliceRecord { Targets = frontier.Take(Settings.SliceSize).Select(CrawlTargetRecord.From).ToList() });
            cut = true;
        }
        if (cut) Save(frontier);
        if (!await StartPendingSlicesAsync() && Slices.AllFinished) await SubmitIngestAsync();
    }

    /// <summary>Hands out the pending slices; false when there were none.</summary>
    private async Task<bool> StartPendingSlicesAsync()
    {
        var started = Slices.Dispatch();
        if (started.Count == 0) return false;
        // The attempt numbers are durable before the workers start, so a restarted job never reuses one.
        await WriteStateAsync();
        foreach (var slice in started)
        {
            var assignment = new SliceAssignment(JobId, slice.Index, slice.Attempt, slice.Targets, WarcDirectory, state.State.AllowedDomains, Settings);
            try { await GrainFactory.GetGrain<ICrawlSliceGrain>($"{JobId}/{slice.Index}/{slice.Attempt}").Start(assignment); }
            catch (Exception error) { logger.LogWarning(error, "Starting slice {Slice} of crawl {Job} failed; it is retried when its lease expires", slice.Index, JobId); }
        }
        return true;
    }

    private async Task SubmitIngestAsync()
    {
        if (state.State.WarcFiles.Count == 0)
        {
            state.State.Phase = CrawlJobPhase.Failed;
            state.State.Error = "The crawl fetched nothing (see its counters for why).";
            await WriteStateAsync();
            Stop();
            return;
        }
        var ingest = IngestSubmissions.ForCrawl(JobId, state.State.WarcFiles, Request.OutputDirectory, Settings.Ingest, Request.Dataset);
        state.State.IngestJobId = ingest.JobId;
        state.State.Phase = CrawlJobPhase.Ingesting;
        await WriteStateAsync();
        await GrainFactory.GetGrain<IIngestJobGrain>(ingest.JobId).Submit(ingest.Request);
    }

    private CrawlFrontier Load() => new(Request.Seeds, Settings.ToOptions(state.State.AllowedDomains), state.State.Seen,
        state.State.Pending.Select(p => p.ToTarget()), state.State.PagesAdmitted);

    private void Save(CrawlFrontier frontier)
    {
        state.State.Seen = [.. frontier.Seen];
        state.State.Pending = [.. frontier.Pending.Select(CrawlTargetRecord.From)];
        state.State.PagesAdmitted = frontier.PagesAdmitted;
    }

    private void StartTimer() =>
        // Kept alive: while slices run nobody else may call the job, and an idle-collected job would forget its leases.
        timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(TickPeriod, TickPeriod) { KeepAlive = true });

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        switch (state.State.Phase)
        {
            case CrawlJobPhase.Crawling:
                var gaveUp = false;
                foreach (var (slice, outcome) in Slices.ExpireLeases())
                {
                    logger.LogWarning("Slice {Slice} of crawl {Job} lost its lease (attempt {Attempt}: {Reason}); it is handed out again", slice.Index, JobId,
                        slice.Attempt, slice.LastError);
                    if (outcome != WorkOutcome.GaveUp) continue;
                    GiveUpTargets(slice);
                    gaveUp = true;
                }
                if (gaveUp) await DispatchAsync();
                else await StartPendingSlicesAsync();
                break;
            case CrawlJobPhase.Ingesting:
                await GetStatus();
                break;
            default:
                Stop();
                break;
        }
    }

    private void Stop()
    {
        timer?.Dispose();
        timer = null;
    }
}
