namespace Platform.Ingestion.Crawling;

public enum CrawlTargetKind
{
    Page,
    Image,
}

/// <summary>One URL to fetch; <paramref name="Depth"/> counts link hops from a seed (images carry their page's depth).</summary>
public sealed record CrawlTarget(string Url, CrawlTargetKind Kind, int Depth);

/// <summary>What fetching a page revealed: links to follow and images to fetch (empty for images and failures).</summary>
public sealed record CrawlDiscovery(IReadOnlyList<string> Links, IReadOnlyList<string> Images)
{
    public static CrawlDiscovery None { get; } = new([], []);
}

/// <summary>
/// The URLs still to fetch, in breadth-first order, and every URL ever admitted (each is fetched once).
/// Applies the crawl's bounds as links come in: domains (pages only), depth and the page budget.
/// Not thread-safe: one driver (a loop, or the crawl job grain) owns it.
/// </summary>
public sealed class CrawlFrontier
{
    private readonly CrawlOptions options;
    private readonly CrawlScope scope;
    private readonly HashSet<string> seen = new(StringComparer.Ordinal);
    private readonly Queue<CrawlTarget> pending = new();

    public CrawlFrontier(IReadOnlyList<string> seeds, CrawlOptions options)
    {
        this.options = options;
        scope = new CrawlScope(seeds, options.AllowedDomains);
        foreach (var seed in seeds) Admit(new CrawlTarget(CrawlScope.ParseSeed(seed).AbsoluteUri, CrawlTargetKind.Page, 0));
    }

    /// <summary>Restores a frontier saved from <see cref="Seen"/>, <see cref="Pending"/> and <see cref="PagesAdmitted"/>.</summary>
    public CrawlFrontier(IReadOnlyList<string> seeds, CrawlOptions options, IEnumerable<string> seen, IEnumerable<CrawlTarget> pending, int pagesAdmitted)
    {
        this.options = options;
        scope = new CrawlScope(seeds, options.AllowedDomains);
        this.seen.UnionWith(seen);
        foreach (var target in pending) this.pending.Enqueue(target);
        PagesAdmitted = pagesAdmitted;
    }

    public CrawlScope Scope => scope;

    public CrawlStats Stats { get; } = new();

    public int PagesAdmitted { get; private set; }

    public IReadOnlyCollection<string> Seen => seen;

    public IReadOnlyCollection<CrawlTarget> Pending => pending;

    public bool TryTake(out CrawlTarget target) => pending.TryDequeue(out target!);

    public List<CrawlTarget> Take(int count)
    {
        var taken = new List<CrawlTarget>(Math.Min(count, pending.Count));
        while (taken.Count < count && pending.TryDequeue(out var target)) taken.Add(target);
        return taken;
    }

    /// <summary>Admits what a fetched page revealed, within the bounds; the rest is counted by reason.</summary>
    public void AddDiscovered(CrawlTarget page, CrawlDiscovery discovery)
    {
        foreach (var image in discovery.Images)
            if (options.FetchImages) Admit(new CrawlTarget(image, CrawlTargetKind.Image, page.Depth));
        foreach (var link in discovery.Links)
        {
            if (seen.Contains(link)) continue;
            if (!Uri.TryCreate(link, UriKind.Absolute, out var uri) || !scope.Allows(uri)) Stats.Add(CrawlReasons.LinkOffDomain);
            else if (page.Depth + 1 > options.MaxDepth) Stats.Add(CrawlReasons.LinkTooDeep);
            else if (PagesAdmitted >= options.MaxPages) Stats.Add(CrawlReasons.LinkOverPageBudget);
            else Admit(new CrawlTarget(link, CrawlTargetKind.Page, page.Depth + 1));
        }
    }

    private void Admit(CrawlTarget target)
    {
        if (target.Kind == CrawlTargetKind.Page && PagesAdmitted >= options.MaxPages) return;
        if (!seen.Add(target.Url)) return;
        if (target.Kind == CrawlTargetKind.Page) PagesAdmitted++;
        pending.Enqueue(target);
    }
}
