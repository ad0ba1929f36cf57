using System.Collections.Concurrent;
using Platform.Ingestion.Fetching;

namespace Platform.Ingestion.Crawling;

/// <summary>
/// Per-host politeness, keyed by origin (scheme, host and port: robots.txt is per origin). One
/// implementation serves one process; a cluster shares one per host through a grain, so every worker
/// of a crawl sees the same robots.txt, the same request spacing and the same circuit.
/// </summary>
public interface IHostPoliteness
{
    /// <summary>The host's robots.txt, fetched through <paramref name="fetch"/> by one caller while others wait for it.</summary>
    Task<RobotsFile> GetRobotsAsync(string origin, Func<CancellationToken, Task<RobotsFile>> fetch, CancellationToken cancellationToken);

    /// <summary>Waits until this caller may send one request to the host; false (at once) when the host's circuit is open.</summary>
    Task<bool> WaitForSlotAsync(string origin, CancellationToken cancellationToken);

    /// <summary>How a request to the host went: failures (network, timeout, 5xx, 429) in a row open its circuit.</summary>
    Task ReportAsync(string origin, bool failed, CancellationToken cancellationToken);
}

public enum RobotsFileStatus
{
    /// <summary>2xx: the rules in the text apply.</summary>
    Found,
    /// <summary>4xx: RFC 9309 lets a crawler fetch everything.</summary>
    Missing,
    /// <summary>5xx, network error or timeout: RFC 9309 has the crawler assume everything is disallowed.</summary>
    Unreachable,
}

public sealed record RobotsFile(RobotsFileStatus Status, string? Text = null)
{
    /// <summary>
    /// The one policy the crawler and the image downloader both apply to a robots.txt response (RFC 9309,
    /// the conservative reading where it leaves room): 2xx gives the rules; 4xx allows everything, except
    /// 429, which asks us to come back later and so counts as unreachable; 5xx, an unfollowed 3xx and a body
    /// over the size limit (<paramref name="body"/> null: rules we cannot read in full may disallow) disallow.
    /// </summary>
    public static RobotsFile FromResponse(int status, byte[]? body) =>
        status is >= 400 and < 500 and not 429 ? new RobotsFile(RobotsFileStatus.Missing)
        : status is < 200 or > 299 || body is null ? new RobotsFile(RobotsFileStatus.Unreachable)
        : new RobotsFile(RobotsFileStatus.Found, System.Text.Encoding.UTF8.GetString(body));

    /// <summary>A robots.txt redirect is followed only to http(s); anywhere else the file is unreachable.</summary>
    public static bool MayFollowRedirect(Uri target) => target.Scheme == Uri.UriSchemeHttp || target.Scheme == Uri.UriSchemeHttps;

    /// <summary>After more redirects than allowed RFC 9309 lets the file count as unavailable, which allows everything.</summary>
    public static RobotsFile TooManyRedirects { get; } = new(RobotsFileStatus.Missing);

    public RobotsRules Rules(string productToken) => Status switch
    {
        RobotsFileStatus.Found => RobotsRules.Parse(Text ?? "", productToken),
        RobotsFileStatus.Missing => RobotsRules.AllowEverything,
        _ => RobotsRules.Unreachable,
    };
}

/// <summary>
/// Each origin's robots.txt rules, parsed once per file rather than once per request: a crawl or a shard fetch asks before
/// every request, and a large robots.txt is a lot of text to parse again.
/// </summary>
public sealed class RobotsRulesCache(string productToken)
{
    private readonly ConcurrentDictionary<string, (RobotsFile File, RobotsRules Rules)> parsed = new(StringComparer.OrdinalIgnoreCase);

    public RobotsRules For(string origin, RobotsFile file)
    {
        if (parsed.TryGetValue(origin, out var known) && ReferenceEquals(known.File, file)) return known.Rules;
        var rules = file.Rules(productToken);
        parsed[origin] = (file, rules);
        return rules;
    }
}

/// <summary>
/// One fetch slot: the time the request may start, or a refusal while the circuit is open until
/// <see cref="OpenUntil"/>. A slot is only good for a quarter of the host's delay after <see cref="At"/>:
/// a caller that got there later (a busy machine, a slow grant) asks for a new one, since its request
/// would otherwise land just before the next caller's.
/// </summary>
public readonly record struct FetchSlot(DateTimeOffset At, DateTimeOffset? OpenUntil, TimeSpan Spacing)
{
    public bool Refused => OpenUntil is not null;

    /// <summary>Never for a host without a delay: there is no next caller to collide with.</summary>
    public bool IsStale(DateTimeOffset now) => Spacing > TimeSpan.Zero && now - At > Spacing / 4;
}

/// <summary>What a caller asking for a host's robots.txt is told.</summary>
public enum RobotsClaim
{
    /// <summary>The file is known.</summary>
    Known,
    /// <summary>Nobody is fetching it: this caller fetches it and hands it back.</summary>
    FetchIt,
    /// <summary>Another caller is fetching it: ask again shortly.</summary>
    Wait,
}

/// <summary>
/// The politeness bookkeeping of one host, shared by the in-process implementation and the cluster's
/// host grain. Not thread-safe: its owner serialises calls (a lock, or a grain's single thread).
/// Slots are handed out in advance: each reservation moves the host's next free time on by the delay,
/// so concurrent callers line up rather than all firing when the delay ends.
/// </summary>
public sealed class HostPolitenessState(PolitenessOptions options, string productToken)
{
    private PolitenessOptions options = options;
    private DateTimeOffset nextSlot = DateTimeOffset.MinValue;
    private int consecutiveFailures;
    private DateTimeOffset? openUntil;
    private DateTimeOffset? robotsClaimedAt;
    private TimeSpan? robotsDelay;

    public RobotsFile? Robots { get; private set; }

    /// <summary>When the next request to the host may start; <see cref="DateTimeOffset.MinValue"/> before the first.</summary>
    public DateTimeOffset NextSlot => nextSlot;

    /// <summary>Until when the host's circuit is open (no requests), after consecutive failures; null while closed.</summary>
    public DateTimeOffset? OpenUntil => openUntil;

    public int ConsecutiveFailures => consecutiveFailures;

    /// <summary>Whether a worker was told to fetch robots.txt and has not answered yet.</summary>
    public bool RobotsBeingFetched => Robots is null && robotsClaimedAt is not null;

    /// <summary>Time between request starts: the configured minimum, or robots.txt's Crawl-delay (capped) when longer.</summary>
    public TimeSpan Delay => robotsDelay is { } d && d > options.MinDelay ? (d < options.MaxCrawlDelay ? d : options.MaxCrawlDelay) : options.MinDelay;

    /// <summary>
    /// Another user of the host (a crawl after an image fetch, say) asks for more care: the longer spacing and crawl-delay
    /// cap, the fewer failures and the longer rest of the two apply from now on. Less care is never adopted.
    /// </summary>
    public void AdoptStricter(PolitenessOptions other)
    {
        options = options with
        {
            MinDelay = Max(options.MinDelay, other.MinDelay),
            MaxCrawlDelay = Max(options.MaxCrawlDelay, other.MaxCrawlDelay),
            BreakerFailures = Math.Min(options.BreakerFailures, other.BreakerFailures),
            BreakerDuration = Max(options.BreakerDuration, other.BreakerDuration),
        };
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    public RobotsClaim ClaimRobots(DateTimeOffset now)
    {
        if (Robots is not null) return RobotsClaim.Known;
        if (robotsClaimedAt is { } claimed && now - claimed < options.RobotsClaimTimeout) return RobotsClaim.Wait;
        robotsClaimedAt = now;
        return RobotsClaim.FetchIt;
    }

    public void SetRobots(RobotsFile robots, DateTimeOffset now)
    {
        // The first answer stands: a late duplicate (after a claim timed out) must not change the rules mid-crawl.
        if (Robots is not null) return;
        Robots = robots;
        robotsDelay = robots.Rules(productToken).CrawlDelay;
        // The robots.txt request went out before the host's delay was known, and its answer may have been slow
        // (a first connection): the next request waits the host's delay from that answer.
        if (now + Delay > nextSlot) nextSlot = now + Delay;
    }

    public FetchSlot Reserve(DateTimeOffset now)
    {
        if (openUntil is { } until && now < until) return new FetchSlot(now, until, Delay);
        var at = nextSlot > now ? nextSlot : now;
        nextSlot = at + Delay;
        return new FetchSlot(at, null, Delay);
    }

    public void Report(bool failed, DateTimeOffset now)
    {
        if (!failed)
        {
            consecutiveFailures = 0;
            openUntil = null;
            return;
        }
        if (++consecutiveFailures < options.BreakerFailures) return;
        openUntil = now + options.BreakerDuration;
        // Half-open after the break: one more failure opens the circuit again.
        consecutiveFailures = options.BreakerFailures - 1;
    }
}

/// <summary>Politeness within one process.</summary>
public sealed class InProcessHostPoliteness(PolitenessOptions options, string productToken, TimeProvider? time = null) : IHostPoliteness
{
    private readonly TimeProvider clock = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Host> hosts = new(StringComparer.OrdinalIgnoreCase);

    private sealed class Host(HostPolitenessState state)
    {
        public readonly HostPolitenessState State = state;
        public Lazy<Task<RobotsFile>>? Robots;
    }

    private Host For(string origin) => hosts.GetOrAdd(origin, _ => new Host(new HostPolitenessState(options, productToken)));

    public async Task<RobotsFile> GetRobotsAsync(string origin, Func<CancellationToken, Task<RobotsFile>> fetch, CancellationToken cancellationToken)
    {
        var host = For(origin);
        Lazy<Task<RobotsFile>> robots;
        lock (host)
            // Fetched once per host; the fetch must not be cancelled by one caller on behalf of all.
            robots = host.Robots ??= new Lazy<Task<RobotsFile>>(() => fetch(CancellationToken.None));
        var file = await robots.Value.WaitAsync(cancellationToken);
        lock (host) host.State.SetRobots(file, clock.GetUtcNow());
        return file;
    }

    public async Task<bool> WaitForSlotAsync(string origin, CancellationToken cancellationToken)
    {
        var host = For(origin);
        while (true)
        {
            FetchSlot slot;
            lock (host) slot = host.State.Reserve(clock.GetUtcNow());
            if (slot.Refused) return false;
            var wait = slot.At - clock.GetUtcNow();
            if (wait > TimeSpan.Zero) await Task.Delay(wait, clock, cancellationToken);
            if (!slot.IsStale(clock.GetUtcNow())) return true;
        }
    }

    public Task ReportAsync(string origin, bool failed, CancellationToken cancellationToken)
    {
        var host = For(origin);
        lock (host) host.State.Report(failed, clock.GetUtcNow());
        return Task.CompletedTask;
    }
}
