using System.Collections.Concurrent;

namespace Platform.Ingestion.Crawling;

/// <summary>
/// Counters of a crawl by name: what was fetched (<c>pages_fetched</c>, <c>images_fetched</c>,
/// <c>robots_fetched</c>, <c>redirects</c>, <c>bytes_archived</c>), what was not and why
/// (<c>page_timeout</c>, <c>image_x_robots_tag_opt_out</c>, <c>page_robots_disallowed</c>, ...) and
/// what the frontier left out (<c>link_off_domain</c>, <c>link_too_deep</c>, <c>link_over_page_budget</c>).
/// Thread-safe; counts from several workers add up with <see cref="Add(IReadOnlyDictionary{string,long})"/>.
/// </summary>
public sealed class CrawlStats
{
    public const string PagesFetched = "pages_fetched";
    public const string ImagesFetched = "images_fetched";
    public const string RobotsFetched = "robots_fetched";
    public const string Redirects = "redirects";
    public const string BytesArchived = "bytes_archived";

    private readonly ConcurrentDictionary<string, long> counts = new(StringComparer.Ordinal);

    public void Add(string name, long count = 1) => counts.AddOrUpdate(name, count, (_, n) => n + count);

    public void Add(IReadOnlyDictionary<string, long> other)
    {
        foreach (var (name, count) in other) Add(name, count);
    }

    /// <summary>A target that was not fetched (or not kept), by its kind and a reason code (see <see cref="CrawlReasons"/>).</summary>
    public void Fail(CrawlTargetKind kind, string reason) => Add(Key(kind, reason));

    public static string Key(CrawlTargetKind kind, string reason) => $"{kind.ToString().ToLowerInvariant()}_{reason}";

    public long this[string name] => counts.GetValueOrDefault(name);

    public SortedDictionary<string, long> Snapshot() => new(counts, StringComparer.Ordinal);
}

/// <summary>Reason codes of the crawler beyond those of the downloader (<see cref="Fetching.FetchReasons"/>).</summary>
public static class CrawlReasons
{
    public const string RedirectLoop = "redirect_loop";
    public const string RedirectOffDomain = "redirect_off_domain";
    public const string NotHtml = "not_html";
    public const string LinkOffDomain = "link_off_domain";
    public const string LinkTooDeep = "link_too_deep";
    public const string LinkOverPageBudget = "link_over_page_budget";
}
