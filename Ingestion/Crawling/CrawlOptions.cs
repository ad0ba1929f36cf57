using Platform.Ingestion.Fetching;

namespace Platform.Ingestion.Crawling;

/// <summary>Bounds and behaviour of a crawl. Defaults suit a small polite crawl of a few sites.</summary>
public sealed record CrawlOptions
{
    /// <summary>
    /// Hosts whose pages are followed; a domain also allows its subdomains. Empty (default): the hosts of
    /// the seed URLs. Images referenced by allowed pages are fetched from any host (pages often keep their
    /// images on another host), each host under its own politeness.
    /// </summary>
    public IReadOnlyList<string> AllowedDomains { get; init; } = [];

    /// <summary>Link hops from a seed (depth 0) beyond which pages are not followed (default 3).</summary>
    public int MaxDepth { get; init; } = 3;

    /// <summary>Pages admitted to the frontier over the whole crawl, seeds included (default 1000). Images do not count.</summary>
    public int MaxPages { get; init; } = 1000;

    /// <summary>Fetch the images that pages reference, so the archive holds the pairs' image bytes (default on).</summary>
    public bool FetchImages { get; init; } = true;

    /// <summary>User-Agent header; its first product token is the name matched in robots.txt.</summary>
    public string UserAgent { get; init; } = "PlatformCrawler/1.0 (+image-text dataset builder; honours robots.txt, X-Robots-Tag and robots meta)";

    /// <summary>Limit for one request, body included (default 10 s); a slower answer is abandoned and counted as a timeout.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Limit for fetching one host's robots.txt (default 10 s). Separate from <see cref="RequestTimeout"/>: an
    /// unreachable robots.txt disallows the whole host (RFC 9309), so a tight page timeout must not turn one
    /// slow first answer into a ban on the host.
    /// </summary>
    public TimeSpan RobotsTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Redirect hops followed per URL (default 5); a longer chain is counted as too_many_redirects, a chain that comes back as redirect_loop.</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>Largest body read (default 32 MiB); larger responses are abandoned and not archived.</summary>
    public long MaxResponseBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>X-Robots-Tag directives on an image that keep it from being downloaded (img2dataset's defaults).</summary>
    public IReadOnlyList<string> OptOutDirectives { get; init; } = GuardedHttp.DefaultOptOutDirectives;

    /// <summary>Allow connecting to loopback addresses (tests only).</summary>
    public bool AllowLoopback { get; init; }

    /// <summary>Allow private, link-local and other non-public unicast ranges (internal mirrors only).</summary>
    public bool AllowPrivateNetworks { get; init; }

    /// <summary>Fetches in flight at once in one process (default 4); per-host politeness still spaces the requests to each host.</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>A WARC file is closed and the next one started once it reaches this size (default 1 GiB, as Common Crawl's files).</summary>
    public long MaxWarcFileBytes { get; init; } = 1L << 30;

    public PolitenessOptions Politeness { get; init; } = new();

    public string RobotsProductToken => UserAgent.Split('/', ' ')[0];

    public AddressPolicy AddressPolicy => new(AllowLoopback, AllowPrivateNetworks);
}

/// <summary>How hard one host may be asked. Defaults follow common crawler practice.</summary>
public sealed record PolitenessOptions
{
    /// <summary>Least time between the starts of two requests to one host (default 1 s); robots.txt's Crawl-delay may ask for more.</summary>
    public TimeSpan MinDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Cap on a robots.txt Crawl-delay (default 30 s), so one host cannot stall a crawl for hours.</summary>
    public TimeSpan MaxCrawlDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Consecutive failures (network errors, timeouts, 5xx, 429) that open a host's circuit (default 5).</summary>
    public int BreakerFailures { get; init; } = 5;

    /// <summary>How long an open circuit refuses a host (default 60 s); the first failure after it reopens it.</summary>
    public TimeSpan BreakerDuration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long others wait for the one fetching a host's robots.txt before fetching it themselves (default 60 s).</summary>
    public TimeSpan RobotsClaimTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
