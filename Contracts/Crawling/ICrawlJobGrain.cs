using Platform.Grains.Ingestion;
using Platform.Grains.Work;

namespace Platform.Grains.Crawling;

/// <summary>
/// One crawl (key: crawl id): its seeds and bounds, the frontier (every URL admitted, the ones still
/// pending), the frontier slices out on workers and the WARC files they wrote. When the frontier is
/// exhausted the WARC files are submitted as an ingest job into the target dataset. Starting the
/// same crawl again returns its status; callers poll <see cref="GetStatus"/>.
/// </summary>
/// <remarks>Slice workers report as every leased worker does (<see cref="IWorkCoordinatorGrain"/>, items of <see cref="WorkKind.CrawlSlice"/>);
/// a refused completion means the slice attempt was superseded and its WARC files are not used.</remarks>
public interface ICrawlJobGrain : IWorkCoordinatorGrain
{
    Task<CrawlJobStatus> Start(CrawlJobRequest request);

    Task<CrawlJobStatus> GetStatus();

    /// <summary>
    /// The crawl's hosts (origins, as its <see cref="ICrawlHostGrain"/>s are keyed), those with the most URLs waiting or out first:
    /// how many URLs of each the crawl has seen, has waiting in its frontier, and has out on workers. Read-only.
    /// </summary>
    Task<IReadOnlyList<CrawlHostLoad>> GetHosts(int take);
}

/// <param name="Origin"><c>scheme://host:port</c> as the crawler keys politeness.</param>
/// <param name="InFlight">URLs in slices out on workers, fetched or not yet reported.</param>
[GenerateSerializer, Immutable]
public sealed record CrawlHostLoad(
    [property: Id(0)] string Origin,
    [property: Id(1)] int Seen,
    [property: Id(2)] int Pending,
    [property: Id(3)] int InFlight);

/// <param name="Seeds">Start URLs (depth 0).</param>
/// <param name="OutputDirectory">WARC files go to <c>warc/</c> under it, the ingest job's output to <c>ingest/</c>; storage every silo can write.</param>
/// <param name="Dataset">The dataset the crawl is ingested into.</param>
[GenerateSerializer, Immutable]
public sealed record CrawlJobRequest(
    [property: Id(0)] IReadOnlyList<string> Seeds,
    [property: Id(1)] string OutputDirectory,
    [property: Id(2)] string Dataset,
    [property: Id(3)] CrawlJobSettings Settings);

/// <summary>A crawl's bounds and behaviour; defaults are those of the crawler's <c>CrawlOptions</c> and <c>PolitenessOptions</c>.</summary>
[GenerateSerializer, Immutable]
public sealed record CrawlJobSettings
{
    /// <summary>Empty: the seeds' hosts.</summary>
    [Id(0)] public IReadOnlyList<string> AllowedDomains { get; init; } = [];
    [Id(1)] public int MaxDepth { get; init; } = 3;
    [Id(2)] public int MaxPages { get; init; } = 1000;
    [Id(3)] public bool FetchImages { get; init; } = true;
    [Id(4)] public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    [Id(5)] public int MaxRedirects { get; init; } = 5;
    /// <summary>Least time between requests to one host, cluster-wide; robots.txt's Crawl-delay may ask for more.</summary>
    [Id(6)] public TimeSpan MinDelay { get; init; } = TimeSpan.FromSeconds(1);
    [Id(7)] public TimeSpan MaxCrawlDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Allow loopback addresses (tests only).</summary>
    [Id(8)] public bool AllowLoopback { get; init; }
    /// <summary>Targets per work unit (default 25): small enough to spread a crawl over the silos, large enough that the job grain is not a bottleneck.</summary>
    [Id(9)] public int SliceSize { get; init; } = 25;
    /// <summary>Slices out at once across the cluster (default 16).</summary>
    [Id(10)] public int MaxSlicesInFlight { get; init; } = 16;
    /// <summary>Fetches in flight within one slice (default 4).</summary>
    [Id(11)] public int ConcurrencyPerSlice { get; init; } = 4;
    /// <summary>
    /// A slice whose fetches have not advanced for this long is presumed stuck and handed out again, even though its worker still
    /// heartbeats (default 10 min; see <see cref="WorkTableOptions.StallTimeout"/>).
    /// </summary>
    [Id(12)] public TimeSpan SliceTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Attempts per slice before its targets are given up (default 3).</summary>
    [Id(13)] public int MaxAttempts { get; init; } = 3;
    [Id(14)] public IngestJobSettings Ingest { get; init; } = new();
    [Id(15)] public TimeSpan RobotsTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>A slice whose worker sent no heartbeat for this long is presumed lost (its silo died) and handed out again (default 60 s).</summary>
    [Id(16)] public TimeSpan LeaseTimeout { get; init; } = TimeSpan.FromSeconds(60);

}

[GenerateSerializer]
public enum CrawlJobPhase
{
    NotStarted,
    Crawling,
    Ingesting,
    Completed,
    Failed,
}

[GenerateSerializer, Immutable]
public sealed record CrawlTargetRecord([property: Id(0)] string Url, [property: Id(1)] bool IsImage, [property: Id(2)] int Depth);

/// <summary>What one fetched target revealed.</summary>
[GenerateSerializer, Immutable]
public sealed record SliceDiscovery(
    [property: Id(0)] CrawlTargetRecord Target,
    [property: Id(1)] IReadOnlyList<string> Links,
    [property: Id(2)] IReadOnlyList<string> Images);

[GenerateSerializer, Immutable]
public sealed record SliceReport(
    [property: Id(0)] IReadOnlyList<string> WarcFiles,
    [property: Id(1)] IReadOnlyList<SliceDiscovery> Discoveries,
    [property: Id(2)] IReadOnlyDictionary<string, long> Stats) : WorkReport;

[GenerateSerializer, Immutable]
public sealed record SliceAssignment(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Slice,
    [property: Id(2)] int Attempt,
    [property: Id(3)] IReadOnlyList<CrawlTargetRecord> Targets,
    [property: Id(4)] string WarcDirectory,
    [property: Id(5)] IReadOnlyList<string> AllowedDomains,
    [property: Id(6)] CrawlJobSettings Settings);

/// <param name="Stats">Fetch and frontier counters by name (the crawler's <c>CrawlStats</c> names).</param>
/// <param name="Ingest">The ingest job's status once the crawl has been submitted for ingestion.</param>
[GenerateSerializer, Immutable]
public sealed record CrawlJobStatus(
    [property: Id(0)] string JobId,
    [property: Id(1)] CrawlJobPhase Phase,
    [property: Id(2)] int PagesAdmitted,
    [property: Id(3)] int Pending,
    [property: Id(4)] int SlicesDone,
    [property: Id(5)] int SlicesRunning,
    [property: Id(6)] IReadOnlyDictionary<string, long> Stats,
    [property: Id(7)] IReadOnlyList<string> WarcFiles,
    [property: Id(8)] string? IngestJobId,
    [property: Id(9)] IngestJobStatus? Ingest,
    [property: Id(10)] string? Error)
{
    public bool IsOver => Phase is CrawlJobPhase.Completed or CrawlJobPhase.Failed;

    public long Stat(string name) => Stats.GetValueOrDefault(name);
}

/// <summary>Fetches one frontier slice off the grain scheduler (key: "{job}/{slice}/{attempt}").</summary>
public interface ICrawlSliceGrain : IGrainWithStringKey
{
    Task Start(SliceAssignment assignment);
}
