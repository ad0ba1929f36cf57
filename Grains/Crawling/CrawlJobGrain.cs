using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Platform.Grains.Ingestion;
using Platform.Grains.Work;
using Platform.Ingestion.Crawling;
using Polly;

namespace Platform.Grains.Crawling;

/// <summary>
/// Durable, small and bounded: the request, the counters, and where the crawl's growing tables stand. The frontier, the slices
/// and the WARC files grow with the crawl, so their rows live in pages of their own (<see cref="PagedRows{TRow}"/>). The frontier
/// is stored as the log of every target it admitted, in admission order (its seen-set), of which the pending queue is the tail
/// from <see cref="PendingFrom"/>: admitting appends, taking moves the mark, and neither rewrites what is stored.
/// Page and image bytes live in the WARC files.
/// </summary>
[GenerateSerializer]
public sealed class CrawlJobState
{
    [Id(0)] public CrawlJobPhase Phase { get; set; }
    [Id(1)] public CrawlJobRequest? Request { get; set; }
    [Id(2)] public List<string> AllowedDomains { get; set; } = [];
    [Id(5)] public int PagesAdmitted { get; set; }
    [Id(7)] public Dictionary<string, long> Stats { get; set; } = [];
    [Id(9)] public string? IngestJobId { get; set; }
    [Id(10)] public string? Error { get; set; }
    [Id(11)] public PagedRowsHead AdmittedRows { get; set; } = new();
    /// <summary>The first admitted target not yet taken into a slice: the pending queue is the admitted log from here on.</summary>
    [Id(12)] public int PendingFrom { get; set; }
    [Id(13)] public PagedRowsHead SliceRows { get; set; } = new();
    [Id(14)] public PagedRowsHead WarcFileRows { get; set; } = new();
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
/// The frontier is stored in pages beside the grain state (see <see cref="CrawlJobState"/>) and held in memory while the crawl
/// runs, which suits crawls of some million URLs; a larger crawl would keep its seen-set in partitioned grains like the dedupe sets.
/// </summary>
public sealed class CrawlJobGrain(
    [PersistentState("crawljob", PlatformStorage.GrainStateProvider)] IPersistentState<CrawlJobState> state,
    IOptions<StorageRetryOptions> storageRetry,
    ILogger<CrawlJobGrain> logger) : Grain, ICrawlJobGrain
{
    private readonly ResiliencePipeline storageWrites = StorageRetry.Pipeline(storageRetry.Value, logger, "Writing a crawl job's state");

    private static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(1);
    /// <summary>Rows per stored page: admitted targets and WARC paths are short; a slice holds its targets (<see cref="CrawlJobSettings.SliceSize"/>) only while it is out.</summary>
    public const int TargetsPerPage = 500, SlicesPerPage = 20, WarcFilesPerPage = 500;
    private WorkTable<CrawlSliceRecord>? slices;
    private PagedRows<CrawlTargetRecord> admitted = null!;
    private PagedRows<CrawlSliceRecord> sliceRows = null!;
    private PagedRows<string> warcFiles = null!;
    private IGrainTimer? timer;

    private string JobId => this.GetPrimaryKeyString();
    private CrawlJobRequest Request => state.State.Request!;
    private CrawlJobSettings Settings => Request.Settings;
    private string WarcDirectory => Path.Combine(Request.OutputDirectory, "warc");

    private WorkTable<CrawlSliceRecord> Slices => slices ??=
        new(sliceRows.Items, new WorkTableOptions(Settings.LeaseTimeout, Settings.SliceTimeout, Settings.MaxAttempts), TimeProvider.System);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var storage = ServiceProvider.GetRequiredKeyedService<IGrainStorage>(PlatformStorage.GrainStateProvider);
        // Admitted targets and WARC paths are only ever appended: the row itself is its fingerprint.
        admitted = new(storage, this.GetGrainId(), "crawljob-admitted", state.State.AdmittedRows, TargetsPerPage, target => target);
        sliceRows = new(storage, this.GetGrainId(), "crawljob-slices", state.State.SliceRows, SlicesPerPage,
            slice => (slice.State, slice.Attempt, slice.LastError, slice.Targets.Count));
        warcFiles = new(storage, this.GetGrainId(), "crawljob-warcfiles", state.State.WarcFileRows, WarcFilesPerPage, path => path);
        await Task.WhenAll(admitted.LoadAsync(), sliceRows.LoadAsync(), warcFiles.LoadAsync());
        if (state.State.Phase is CrawlJobPhase.Crawling or CrawlJobPhase.Ingesting)
        {
            // Leases are not durable: after a reactivation every slice out gets a fresh one.
            Slices.ResumeLeases();
            StartTimer();
        }
    }

    /// <summary>The changed pages first, then the state that names them.</summary>
    /// <remarks>A storage outage is waited out; a write given up deactivates the job, so the attempt numbers it carried are forgotten.</remarks>
    private async Task SaveAsync()
    {
        await storageWrites.WriteOnGrainAsync(_ => Task.WhenAll(admitted.WriteAsync(), sliceRows.WriteAsync(), warcFiles.WriteAsync()), this);
        await storageWrites.WriteStateAsync(state, this);
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
        await SaveAsync();
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
                await SaveAsync();
                Stop();
            }
        }
        var slices = sliceRows.Items;
        return new CrawlJobStatus(JobId, state.State.Phase, state.State.PagesAdmitted, admitted.Items.Count - state.State.PendingFrom,
            slices.Count(s => s.IsFinished), slices.Count(s => !s.IsFinished), new Dictionary<string, long>(state.State.Stats),
            [.. warcFiles.Items], state.State.IngestJobId, ingest, state.State.Error);
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
        foreach (var target in admitted.Items) Count(target.Url, 1, 0, 0);
        foreach (var target in admitted.Items.Skip(state.State.PendingFrom)) Count(target.Url, 0, 1, 0);
        foreach (var target in sliceRows.Items.Where(s => !s.IsFinished).SelectMany(s => s.Targets)) Count(target.Url, 0, 0, 1);
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
        warcFiles.Items.AddRange(slice.WarcFiles);
        // The targets are no longer needed once their discoveries are in the frontier; the slice row stays for the status.
        Slices[item.Index].Targets = [];
        await SaveAsync();
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
        await SaveAsync();
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
        while (sliceRows.Items.Count(s => !s.IsFinished) < Settings.MaxSlicesInFlight && frontier.Pending.Count > 0)
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
        await SaveAsync();
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
        if (warcFiles.Items.Count == 0)
        {
            state.State.Phase = CrawlJobPhase.Failed;
            state.State.Error = "The crawl fetched nothing (see its counters for why).";
            await SaveAsync();
            Stop();
            return;
        }
        var ingest = IngestSubmissions.ForCrawl(JobId, [.. warcFiles.Items], Request.OutputDirectory, Settings.Ingest, Request.Dataset);
        state.State.IngestJobId = ingest.JobId;
        state.State.Phase = CrawlJobPhase.Ingesting;
        await SaveAsync();
        await GrainFactory.GetGrain<IIngestJobGrain>(ingest.JobId).Submit(ingest.Request);
    }

    private CrawlFrontier Load() => new(Request.Seeds, Settings.ToOptions(state.State.AllowedDomains), admitted.Items.Select(t => t.Url),
        admitted.Items.Skip(state.State.PendingFrom).Select(p => p.ToTarget()), state.State.PagesAdmitted);

    /// <summary>
    /// Appends what the frontier admitted since <see cref="Load"/> to the admitted log and moves the pending mark past what it
    /// gave out. The frontier admits into its seen-set and the tail of its queue at once, so the new admissions are the queue's
    /// last ones; a frontier that both admitted and gave out its new admissions between two saves cannot be stored this way.
    /// </summary>
    private void Save(CrawlFrontier frontier)
    {
        var added = frontier.Seen.Count - admitted.Items.Count;
        if (added < 0 || added > frontier.Pending.Count)
            throw new InvalidOperationException($"Crawl '{JobId}': the frontier admitted {added} targets since it was loaded, with {frontier.Pending.Count} pending.");
        admitted.Items.AddRange(frontier.Pending.Skip(frontier.Pending.Count - added).Select(CrawlTargetRecord.From));
        state.State.PendingFrom = admitted.Items.Count - frontier.Pending.Count;
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
