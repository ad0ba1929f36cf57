namespace Platform.Ingestion.Crawling;

/// <summary>Which pages a crawl may follow: http(s) URLs on the allowed domains or their subdomains.</summary>
public sealed class CrawlScope
{
    private readonly string[] domains;

    public CrawlScope(IEnumerable<string> seeds, IReadOnlyList<string> allowedDomains)
    {
        domains = (allowedDomains.Count > 0 ? allowedDomains : seeds.Select(s => new Uri(s).Host))
            .Select(d => d.Trim().TrimEnd('.').ToLowerInvariant())
            .Where(d => d.Length > 0)
            .Distinct()
            .ToArray();
        if (domains.Length == 0) throw new ArgumentException("A crawl needs at least one seed or allowed domain.", nameof(seeds));
    }

    public IReadOnlyList<string> Domains => domains;

    public bool Allows(Uri uri)
    {
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) return false;
        var host = uri.Host.TrimEnd('.').ToLowerInvariant();
        foreach (var domain in domains)
            if (host == domain || host.EndsWith("." + domain, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>Parses a seed, refusing what a crawl cannot start from.</summary>
    public static Uri ParseSeed(string seed) =>
        Uri.TryCreate(seed, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new ArgumentException($"Not an http(s) URL: {seed}", nameof(seed));
}
