using System.Net.Sockets;
using System.Text;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Html;
using Platform.Ingestion.Http;
using Platform.Ingestion.Pipeline;

namespace Platform.Ingestion.Crawling;

/// <summary>
/// Fetches one crawl target: robots.txt first (through the politeness, once per host), then one
/// request per fetch slot, redirects followed hop by hop (each hop checked against the scope and
/// robots.txt), and archives every response it read. An image whose X-Robots-Tag opts out is
/// abandoned before its body is read. A page's links are returned unless it says nofollow; its images
/// unless it opts out of AI use or indexing (meta robots or X-Robots-Tag), as extraction would drop
/// their pairs anyway. Failures are counted by reason in <see cref="CrawlStats"/>, never thrown.
/// </summary>
public sealed class CrawlFetcher : IDisposable
{
    private readonly CrawlOptions options;
    private readonly CrawlScope scope;
    private readonly IHostPoliteness politeness;
    private readonly CrawlStats stats;
    private readonly HttpClient client;
    private readonly HtmlExtractor extractor = new();
    private readonly Lock extractorGate = new();
    private readonly RobotsRulesCache robotsRules;

    public CrawlFetcher(CrawlOptions options, CrawlScope scope, IHostPoliteness politeness, CrawlStats stats, IHostResolver? resolver = null)
    {
        this.options = options;
        this.scope = scope;
        this.politeness = politeness;
        this.stats = stats;
        robotsRules = new RobotsRulesCache(options.RobotsProductToken);
        // Bodies are archived as received (content-encoded), and decoded here only to read links.
        client = new HttpClient(GuardedHttp.CreateHandler(options.AddressPolicy, resolver ?? new DnsHostResolver(), decompress: false))
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
    }

    private sealed record Exchange(int Status, List<KeyValuePair<string, string>> Headers, byte[] Body, Uri? Location);

    private sealed class FetchFailed(string reason, bool hostFailure) : Exception(reason)
    {
        public string Reason { get; } = reason;
        public bool HostFailure { get; } = hostFailure;
    }

    public async Task<CrawlDiscovery> FetchAsync(CrawlTarget target, CrawlArchive archive, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(target.Url, UriKind.Absolute, out var current) || (current.Scheme != Uri.UriSchemeHttp && current.Scheme != Uri.UriSchemeHttps))
        {
            stats.Fail(target.Kind, FetchReasons.InvalidUrl);
            return CrawlDiscovery.None;
        }
        var chain = new HashSet<string>(StringComparer.Ordinal) { current.AbsoluteUri };
        for (var hop = 0; ; hop++)
        {
            var origin = current.GetLeftPart(UriPartial.Authority);
            Exchange exchange;
            try
            {
                var robots = await politeness.GetRobotsAsync(origin, ct => FetchRobotsAsync(origin, archive, ct), cancellationToken);
                if (!robotsRules.For(origin, robots).IsAllowed(current.PathAndQuery))
                    throw new FetchFailed(FetchReasons.RobotsDisallowed, hostFailure: false);
                exchange = await SendAsync(current, target.Kind == CrawlTargetKind.Image, options.RequestTimeout, cancellationToken);
            }
            catch (FetchFailed failure)
            {
                stats.Fail(target.Kind, failure.Reason);
                return CrawlDiscovery.None;
            }

            stats.Add(CrawlStats.BytesArchived, archive.Write(current, exchange.Status, exchange.Headers, exchange.Body));
            if (exchange.Location is { } location)
            {
                stats.Add(CrawlStats.Redirects);
                var next = location.IsAbsoluteUri ? location : new Uri(current, location);
                string? refusal =
                    next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps ? FetchReasons.InvalidUrl
                    : target.Kind == CrawlTargetKind.Page && !scope.Allows(next) ? CrawlReasons.RedirectOffDomain
                    : !chain.Add(next.AbsoluteUri) ? CrawlReasons.RedirectLoop
                    : hop >= options.MaxRedirects ? FetchReasons.TooManyRedirects
                    : null;
                if (refusal is not null)
                {
                    stats.Fail(target.Kind, refusal);
                    return CrawlDiscovery.None;
                }
                current = next;
                continue;
            }
            if (exchange.Status is < 200 or > 299)
            {
                stats.Fail(target.Kind, FetchReasons.HttpStatus(exchange.Status));
                return CrawlDiscovery.None;
            }
            if (target.Kind == CrawlTargetKind.Image)
            {
                stats.Add(CrawlStats.ImagesFetched);
                return CrawlDiscovery.None;
            }
            stats.Add(CrawlStats.PagesFetched);
            return Discover(current, exchange);
        }
    }

    /// <summary>One request in one fetch slot; the outcome is reported to the host's circuit.</summary>
    private async Task<Exchange> SendAsync(Uri uri, bool isImage, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var origin = uri.GetLeftPart(UriPartial.Authority);
        if (!await politeness.WaitForSlotAsync(origin, cancellationToken)) throw new FetchFailed(FetchReasons.CircuitOpen, hostFailure: false);
        try
        {
            var exchange = await ExchangeAsync(uri, isImage, timeout, cancellationToken);
            await politeness.ReportAsync(origin, exchange.Status >= 500 || exchange.Status == 429, cancellationToken);
            return exchange;
        }
        catch (FetchFailed failure)
        {
            await politeness.ReportAsync(origin, failure.HostFailure, cancellationToken);
            throw;
        }
    }

    private async Task<Exchange> ExchangeAsync(Uri uri, bool isImage, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            if (isImage && status is >= 200 and <= 299
                && GuardedHttp.OptOutDirective(response, options.RobotsProductToken, options.OptOutDirectives) is not null)
                throw new FetchFailed(FetchReasons.OptedOut, hostFailure: false);
            if (response.Content.Headers.ContentLength > options.MaxResponseBytes) throw new FetchFailed(FetchReasons.TooLarge, hostFailure: false);
            var body = await GuardedHttp.ReadLimitedAsync(response.Content, options.MaxResponseBytes, timeout.Token) ?? throw new FetchFailed(FetchReasons.TooLarge, hostFailure: false);
            var location = status is >= 300 and < 400 ? response.Headers.Location : null;
            return new Exchange(status, ArchivedHeaders(response, body.Length), body, location);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new FetchFailed(FetchReasons.Timeout, hostFailure: true);
        }
        catch (Exception ex) when (GuardedHttp.FindBlocked(ex) is not null)
        {
            throw new FetchFailed(FetchReasons.BlockedAddress, hostFailure: false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or SocketException)
        {
            throw new FetchFailed(FetchReasons.NetworkError, hostFailure: true);
        }
    }

    /// <summary>
    /// The headers as received, except the framing: the client has already removed the chunked transfer
    /// coding, so the archived record carries the plain body with its own Content-Length.
    /// </summary>
    private static List<KeyValuePair<string, string>> ArchivedHeaders(HttpResponseMessage response, int bodyLength)
    {
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var value in values) headers.Add(new(name, value));
        }
        headers.Add(new("Content-Length", bodyLength.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return headers;
    }

    /// <summary>robots.txt per RFC 9309: 4xx allows everything; 5xx, errors and timeouts disallow the host. Archived like any response.</summary>
    private async Task<RobotsFile> FetchRobotsAsync(string origin, CrawlArchive archive, CancellationToken cancellationToken)
    {
        var current = new Uri(origin + "/robots.txt");
        try
        {
            for (var hop = 0; hop <= options.MaxRedirects; hop++)
            {
                var exchange = await SendAsync(current, isImage: false, options.RobotsTimeout, cancellationToken);
                stats.Add(CrawlStats.BytesArchived, archive.Write(current, exchange.Status, exchange.Headers, exchange.Body));
                stats.Add(CrawlStats.RobotsFetched);
                if (exchange.Location is { } location)
                {
                    current = location.IsAbsoluteUri ? location : new Uri(current, location);
                    if (!RobotsFile.MayFollowRedirect(current)) return new RobotsFile(RobotsFileStatus.Unreachable);
                    continue;
                }
                return RobotsFile.FromResponse(exchange.Status, exchange.Status is >= 200 and <= 299 ? Decoded(exchange).ToArray() : null);
            }
            return RobotsFile.TooManyRedirects;
        }
        catch (FetchFailed)
        {
            return new RobotsFile(RobotsFileStatus.Unreachable);
        }
    }

    /// <summary>The body with its content coding removed, read the way extraction will read the archived record.</summary>
    private ReadOnlyMemory<byte> Decoded(Exchange exchange)
    {
        var head = new StringBuilder("HTTP/1.1 200 OK\r\n");
        foreach (var (name, value) in exchange.Headers) head.Append(name).Append(": ").Append(value).Append("\r\n");
        head.Append("\r\n");
        var block = Encoding.Latin1.GetBytes(head.ToString()).Concat(exchange.Body).ToArray();
        if (!HttpResponse.TryParse(block, out var response)) return exchange.Body;
        return HttpBody.TryDecode(response, block.AsMemory(response.BodyOffset), (int)Math.Min(int.MaxValue, options.MaxResponseBytes), out var body, out _)
            ? body
            : exchange.Body;
    }

    private CrawlDiscovery Discover(Uri pageUri, Exchange exchange)
    {
        var body = Decoded(exchange);
        var contentType = HttpResponse.ParseContentType(exchange.Headers.FirstOrDefault(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)).Value);
        if (ContentSniffer.Classify(contentType.MediaType, body.Span) != ContentKind.Html)
        {
            stats.Fail(CrawlTargetKind.Page, CrawlReasons.NotHtml);
            return CrawlDiscovery.None;
        }
        var headerRobots = RobotsDirectives.None;
        foreach (var (name, value) in exchange.Headers)
            if (name.Equals("X-Robots-Tag", StringComparison.OrdinalIgnoreCase)) headerRobots |= Robots.Parse(value);
        var utf8 = CharsetDecoder.ToUtf8(body, contentType.Charset, out _);
        lock (extractorGate)
        {
            var page = extractor.Extract(utf8.Span, pageUri.AbsoluteUri, collectText: false, collectLinks: true);
            var robots = page.Robots | headerRobots;
            var links = (robots & RobotsDirectives.NoFollow) != 0 ? [] : page.Links.ToList();
            var images = (robots & AltTextFilter.OptOut) != 0 ? [] : page.Images.Select(i => i.ImageUrl).Distinct().ToList();
            return new CrawlDiscovery(links, images);
        }
    }

    public void Dispose() => client.Dispose();
}
