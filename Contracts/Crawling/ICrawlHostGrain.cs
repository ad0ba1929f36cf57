namespace Platform.Grains.Crawling;

/// <summary>
/// The politeness of one host for every crawl worker in the cluster (key: the host's origin,
/// <c>scheme://host:port</c>, since robots.txt is per origin). It keeps the host's robots.txt, hands out
/// fetch slots spaced by the crawl delay ("wait this long, then fetch"), and opens the host's circuit
/// after consecutive failures. All calls are short; no HTTP happens in the grain.
/// </summary>
public interface ICrawlHostGrain : IGrainWithStringKey
{
    /// <summary>The robots.txt if known; otherwise either this caller is to fetch it (and <see cref="PutRobots"/>) or it should ask again shortly.</summary>
    Task<HostRobotsAnswer> ClaimRobots(CrawlHostSettings settings);

    Task PutRobots(string status, string? text, CrawlHostSettings settings);

    /// <summary>Reserves the host's next fetch slot.</summary>
    Task<HostSlot> ReserveSlot(CrawlHostSettings settings);

    Task Report(bool failed, CrawlHostSettings settings);

    /// <summary>The host's politeness as it stands, for people to look at; changes nothing.</summary>
    Task<CrawlHostStatus> GetStatus();
}

/// <param name="Robots">The robots file status name once known; "fetching" while a worker fetches it; "not asked" before any worker asked.</param>
/// <param name="CrawlDelay">Time between request starts (the crawl's minimum, or robots.txt's Crawl-delay when longer); null before any worker asked.</param>
/// <param name="NextFetchAt">When the next request may start (UTC); null before the first.</param>
/// <param name="CircuitOpenUntil">Until when no request goes out after consecutive failures; null while the circuit is closed.</param>
[GenerateSerializer, Immutable]
public sealed record CrawlHostStatus(
    [property: Id(0)] string Origin,
    [property: Id(1)] string Robots,
    [property: Id(2)] TimeSpan? CrawlDelay,
    [property: Id(3)] DateTimeOffset? NextFetchAt,
    [property: Id(4)] DateTimeOffset? CircuitOpenUntil,
    [property: Id(5)] int ConsecutiveFailures)
{
    public const string RobotsNotAsked = "not asked";
    public const string RobotsFetching = "fetching";
}

[GenerateSerializer]
public enum HostRobotsClaim
{
    Known,
    FetchIt,
    Wait,
}

/// <param name="Status">A robots file status name (the crawler's <c>RobotsFileStatus</c>) when <paramref name="Claim"/> is Known.</param>
[GenerateSerializer, Immutable]
public sealed record HostRobotsAnswer([property: Id(0)] HostRobotsClaim Claim, [property: Id(1)] string? Status, [property: Id(2)] string? Text);

/// <summary>
/// "You may fetch at <see cref="At"/>" (UTC). An absolute time rather than a wait, so that a grant that
/// reaches one worker late does not push its request into the next worker's slot; silos' clocks are
/// assumed synchronised (NTP), and any skew between two silos shortens the spacing by that much.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record HostSlot([property: Id(0)] bool Refused, [property: Id(1)] DateTimeOffset At, [property: Id(2)] TimeSpan Spacing);

/// <summary>The politeness settings of the crawl asking; the first caller's settings configure the host's grain.</summary>
[GenerateSerializer, Immutable]
public sealed record CrawlHostSettings(
    [property: Id(0)] string ProductToken,
    [property: Id(1)] TimeSpan MinDelay,
    [property: Id(2)] TimeSpan MaxCrawlDelay,
    [property: Id(3)] int BreakerFailures,
    [property: Id(4)] TimeSpan BreakerDuration,
    [property: Id(5)] TimeSpan RobotsClaimTimeout);
