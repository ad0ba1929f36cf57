using Platform.Ingestion.Crawling;

namespace Platform.Ingestion.Fetching;

/// <summary>HTTP downloader settings. Defaults suit a polite bulk image crawler.</summary>
public sealed record DownloaderOptions
{
    /// <summary>User-Agent header; its first product token is the name matched in robots.txt.</summary>
    public string UserAgent { get; init; } = "PlatformImageBot/1.0 (+image-text dataset builder; honours robots.txt and X-Robots-Tag noai)";

    /// <summary>Limit for one HTTP attempt including redirects and reading the body.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for all attempts of one URL together, backoff included.</summary>
    public TimeSpan TotalTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt, for network errors, timeouts, 5xx, 408 and 429.</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>First backoff delay; doubles per retry, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Redirects followed per request before giving up (loops end here too).</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>Largest body read; larger responses are abandoned (default matches ImageOptions.MaxBytes).</summary>
    public long MaxResponseBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>Fetch and honour each host's robots.txt (RFC 9309) for our product token.</summary>
    public bool HonourRobotsTxt { get; init; } = true;

    /// <summary>
    /// Limit for fetching one host's robots.txt. Separate from <see cref="AttemptTimeout"/>: an
    /// unreachable robots.txt disallows the whole host (RFC 9309), so a tight image timeout must not
    /// turn a slow first answer into a ban on every image of that host.
    /// </summary>
    public TimeSpan RobotsTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>X-Robots-Tag directives that opt an image out (img2dataset's defaults).</summary>
    public IReadOnlyList<string> OptOutDirectives { get; init; } = GuardedHttp.DefaultOptOutDirectives;

    /// <summary>Allow connecting to loopback addresses (tests only).</summary>
    public bool AllowLoopback { get; init; }

    /// <summary>Allow private, link-local and other non-public unicast ranges (internal mirrors only).</summary>
    public bool AllowPrivateNetworks { get; init; }

    /// <summary>Per-host breaker: failure ratio within the sampling window that opens it.</summary>
    public double BreakerFailureRatio { get; init; } = 0.5;

    /// <summary>Per-host breaker: attempts in the window before the ratio counts.</summary>
    public int BreakerMinimumThroughput { get; init; } = 10;

    public TimeSpan BreakerSamplingDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an open breaker refuses a host before it lets a trial request through.</summary>
    public TimeSpan BreakerBreakDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Per-host spacing, robots.txt's Crawl-delay (capped by its MaxCrawlDelay) and the host circuit, as the crawler keeps
    /// them. No minimum spacing by default: an image host without a Crawl-delay is limited by <see cref="MaxConcurrentPerHost"/> alone.
    /// A downloader given the crawl's politeness (or the cluster's host grains) uses that instead and shares its state.
    /// </summary>
    public PolitenessOptions Politeness { get; init; } = new() { MinDelay = TimeSpan.Zero };

    /// <summary>Requests in flight to one host from this downloader (default 8), however many shards fetch at once.</summary>
    public int MaxConcurrentPerHost { get; init; } = 8;

    /// <summary>
    /// Longest Retry-After (of a 429 or 503) waited before the retry (default 10 s); a host asking for longer fails the image
    /// with its status rather than hold a fetch slot that long.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(10);

    public string RobotsProductToken => UserAgent.Split('/', ' ')[0];
}
