using Microsoft.Extensions.Logging;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Crawling;

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

[GenerateSerializer]
public sealed class CrawlSliceRecord
{
    [Id(0)] public int Index { get; set; }
    [Id(1)] public List<CrawlTargetRecord> Targets { get; set; } = [];
    [Id(2)] public int Attempt { get; set; }
    [Id(3)] public bool Done { get; set; }
    [Id(4)] public string? LastError { get; set; }
}

/// <summary>
/// Drives a crawl: takes slices off the frontier, hands each to a <see cref="ICrawlSliceGrain"/> on some
/// silo, folds the links and images a slice reports back into the frontier (where the bounds apply),
/// and submits the WARC files to an <see cref="IIngestJobGrain"/> when nothing is pending or out.
/// A slice that does not report within its timeout, or whose job reactivated, is handed out again under
/// a new attempt number; a late report from the old attempt is refused, so nothing is counted twice.
/// The frontier lives in the grain state, which suits crawls of up to some hundred thousand URLs; a larger
/// crawl would keep its seen-set in partitioned grains like the dedupe sets.
/// </summary>
public sealed class CrawlJobGrain(
    [PersistentState("crawljob", PlatformStorage.GrainStateProvider)] IPersistentState<CrawlJobState> state,
    ILogger<CrawlJobGrain> logger) : Grain, ICrawlJobGrain
{
    private static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(1);
    private readonly Dictionary<int, DateTimeOffset> deadlines = [];
    private IGrainTimer? timer;

    private string JobId => this.GetPrimaryKeyString();
    private CrawlJobRequest Request => state.State.Request!;
    private CrawlJobSettings Settings => Request.Settings;
    private string WarcDirectory => Path.Combine(Request.OutputDirectory, "warc");

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Phase is CrawlJobPhase.Crawling or CrawlJobPhase.Ingesting)
        {
            // Deadlines are not durable: after a reactivation every slice out gets a fresh one.
            foreach (var slice in state.State.Slices.Where(s => !s.Done)) deadlines[slice.Index] = DateTimeOffset.UtcNow + Settings.SliceTimeout;
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
        await state.WriteStateAsync();
        StartTimer();
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
                await state.WriteStateAsync();
                Stop();
            }
        }
        var slices = state.State.Slices;
        return new CrawlJobStatus(JobId, state.State.Phase, state.State.PagesAdmitted, state.State.Pending.Count,
            slices.Count(s => s.Done), slices.Count(s => !s.Done), new Dictionary<string, long>(state.State.Stats),
            [.. state.State.WarcFiles], state.State.IngestJobId, ingest, state.State.Error);
    }

    public async Task<bool> CompleteSlice(int slice, int attempt, SliceReport report)
    {
        if (state.State.Slices.ElementAtOrDefault(slice) is not { } record || record.Done || record.Attempt != attempt
            || state.State.Phase != CrawlJobPhase.Crawling)
            return false;
        var frontier = Load();
        foreach (var discovery in report.Discoveries)
            frontier.AddDiscovered(discovery.Target.ToTarget(), new CrawlDiscovery(discovery.Links, discovery.Images));
        Save(frontier);
        foreach (var (name, count) in report.Stats.Concat(frontier.Stats.Snapshot()))
            state.State.Stats[name] = state.State.Stats.GetValueOrDefault(name) + count;
        state.State.WarcFiles.AddRange(report.WarcFiles);
        record.Done = true;
        record.LastError = null;
        // The targets are no longer needed once their discoveries are in the frontier; the slice row stays for the status.
        record.Targets = [];
        deadlines.Remove(slice);
        await state.WriteStateAsync();
        await DispatchAsync();
        return true;
    }

    public async Task FailSlice(int slice, int attempt, string error)
    {
        if (state.State.Slices.ElementAtOrDefault(slice) is not { } record || record.Done || record.Attempt != attempt) return;
        logger.LogWarning("Slice {Slice} attempt {Attempt} of crawl {Job} failed: {Error}", slice, attempt, JobId, error);
        await RetryOrGiveUpAsync(record, error);
    }

    private async Task RetryOrGiveUpAsync(CrawlSliceRecord record, string error)
    {
        record.LastError = error;
        deadlines.Remove(record.Index);
        if (record.Attempt >= Settings.MaxAttempts)
        {
            // One slice's targets are lost, not the crawl: counted, and the crawl goes on.
            record.Done = true;
            state.State.Stats["slice_failed_targets"] = state.State.Stats.GetValueOrDefault("slice_failed_targets") + record.Targets.Count;
            record.Targets = [];
            await state.WriteStateAsync();
            await DispatchAsync();
            return;
        }
        await StartSliceAsync(record);
    }

    private async Task DispatchAsync()
    {
        if (state.State.Phase != CrawlJobPhase.Crawling) return;
        var started = new List<CrawlSliceRecord>();
        var frontier = Load();
        while (state.State.Slices.Count(s => !s.Done) < Settings.MaxSlicesInFlight && frontier.Pending.Count > 0)
        {
            var slice = new CrawlSliceRecord
            {
                Index = state.State.Slices.Count,
                Targets = frontier.Take(Settings.SliceSize).Select(CrawlTargetRecord.From).ToList(),
            };
            state.State.Slices.Add(slice);
            started.Add(slice);
        }
        Save(frontier);
        if (started.Count == 0)
        {
            if (state.State.Slices.All(s => s.Done)) await SubmitIngestAsync();
            return;
        }
        foreach (var slice in started) await StartSliceAsync(slice);
    }

    private async Task StartSliceAsync(CrawlSliceRecord slice)
    {
        slice.Attempt++;
        deadlines[slice.Index] = DateTimeOffset.UtcNow + Settings.SliceTimeout;
        // The attempt number is durable before the worker starts, so a restarted job never reuses one.
        await state.WriteStateAsync();
        var assignment = new SliceAssignment(JobId, slice.Index, slice.Attempt, slice.Targets, WarcDirectory, state.State.AllowedDomains, Settings);
        try { await GrainFactory.GetGrain<ICrawlSliceGrain>($"{JobId}/{slice.Index}/{slice.Attempt}").Start(assignment); }
        catch (Exception error) { logger.LogWarning(error, "Starting slice {Slice} of crawl {Job} failed; it is retried when its deadline passes", slice.Index, JobId); }
    }

    private async Task SubmitIngestAsync()
    {
        if (state.State.WarcFiles.Count == 0)
        {
            state.State.Phase = CrawlJobPhase.Failed;
            state.State.Error = "The crawl fetched nothing (see its counters for why).";
            await state.WriteStateAsync();
            Stop();
            return;
        }
        var ingest = IngestSubmissions.ForCrawl(JobId, state.State.WarcFiles, Request.OutputDirectory, Settings.Ingest, Request.Dataset);
        state.State.IngestJobId = ingest.JobId;
        state.State.Phase = CrawlJobPhase.Ingesting;
        await state.WriteStateAsync();
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
        // Kept alive: while slices run nobody else may call the job, and an idle-collected job would forget its deadlines.
        timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(TickPeriod, TickPeriod) { KeepAlive = true });

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        switch (state.State.Phase)
        {
            case CrawlJobPhase.Crawling:
                var now = DateTimeOffset.UtcNow;
                foreach (var slice in state.State.Slices.Where(s => !s.Done && deadlines.TryGetValue(s.Index, out var d) && d <= now).ToList())
                {
                    logger.LogWarning("Slice {Slice} of crawl {Job} did not report in time (attempt {Attempt}); it is handed out again", slice.Index, JobId, slice.Attempt);
                    await RetryOrGiveUpAsync(slice, $"no report within {Settings.SliceTimeout}");
                }
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
