using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Platform.Ingestion.Tests.Fetching;
using Platform.Ingestion.Tests.Runs;
using Platform.Ingestion.Crawling;
using Platform.Ingestion.Fetching;
using SkiaSharp;
using Xunit;

namespace Platform.Ingestion.Tests.Crawling;

/// <summary>
/// A small web site on loopback with everything a crawler must handle: pages linking to each other,
/// images with alt texts, robots.txt disallowing /private/ and asking for a Crawl-delay, an image whose
/// X-Robots-Tag says noai, a page whose meta robots says noai, a nofollow page, a page slower than the
/// crawl's timeout, a two-page redirect loop, an endless redirect chain, a link to another host name
/// and a chain of pages deeper than the crawl's depth.
/// </summary>
public sealed class CrawlSite : IAsyncDisposable
{
    public const string Prose = RunSamples.Prose;

    private CrawlSite(LoopbackServer server) => Server = server;

    public LoopbackServer Server { get; }

    public string Seed => Server.Url("/");

    /// <summary>Crawl-delay announced in robots.txt.</summary>
    public static readonly TimeSpan CrawlDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>Caption to the SHA-256 of the image bytes, for every pair a re-ingest of the crawl must yield.</summary>
    public Dictionary<string, string> ExpectedPairs { get; } = [];

    /// <summary>Paths (with query) the crawler must never request.</summary>
    public static readonly string[] NeverRequested =
        ["/private/secret.html", "/private/hidden.jpg", "/img/page-opted-out.jpg", "/behind-nofollow.html", "/deep3.html"];

    /// <summary>Made once per process: encoding them is most of a site's start-up.</summary>
    private static readonly Lazy<(byte[], byte[], byte[], byte[], byte[], byte[])> Images = new(() => (
        RunSamples.NoisyImage(new SKColor(200, 40, 40), seed: 1),
        RunSamples.NoisyImage(new SKColor(40, 200, 40), seed: 2),
        RunSamples.NoisyImage(new SKColor(40, 40, 200), seed: 3),
        RunSamples.NoisyImage(new SKColor(220, 220, 40), seed: 4),
        RunSamples.NoisyImage(new SKColor(128, 128, 128), seed: 5),
        RunSamples.NoisyImage(new SKColor(10, 10, 10), seed: 6)));

    public static async Task<CrawlSite> StartAsync()
    {
        var site = new CrawlSite(await LoopbackServer.StartAsync());
        var server = site.Server;
        server.Map("/robots.txt", (c, _) => Text(c, "text/plain",
            $"User-agent: *\nDisallow: /private/\nCrawl-delay: {CrawlDelay.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}\n"));

        var (red, green, blue, yellow, grey, black) = Images.Value;
        server.MapImage("/img/red.jpg", red);
        server.MapImage("/img/green.jpg", green);
        server.MapImage("/img/blue.jpg", blue);
        server.MapImage("/img/noai.jpg", yellow, robotsTag: "noai");
        server.MapImage("/img/page-opted-out.jpg", grey);
        server.MapImage("/private/hidden.jpg", black);
        site.ExpectedPairs["A red bicycle leaning against a brick wall"] = Sha(red);
        site.ExpectedPairs["Green hills under a wide summer sky"] = Sha(green);
        site.ExpectedPairs["A small blue boat on a calm lake"] = Sha(blue);

        MapPage(server, "/", """
            <a href="/harbour.html">harbour</a> <a href="/hills.html#top">hills</a> <a href="/private/secret.html">secret</a>
            <a href="/slow.html">slow</a> <a href="/loop-a.html">loop</a> <a href="/chain?n=0">chain</a>
            <a href="/nofollow.html">nofollow</a> <a href="/opted-out.html">opted out</a> <a href="/deep1.html">deep</a>
            <a href="HOST_OTHER/elsewhere.html">elsewhere</a>
            <img src="/img/red.jpg" alt="A red bicycle leaning against a brick wall">
            <img src="/img/noai.jpg" alt="A yellow taxi waiting at the corner">
            <img src="/private/hidden.jpg" alt="A black cat asleep on a velvet chair">
            """);
        MapPage(server, "/harbour.html", """<a href="/">home</a> <a href="/hills.html">hills</a><img src="/img/green.jpg" alt="Green hills under a wide summer sky">""");
        MapPage(server, "/hills.html", """<a href="/private/secret.html">secret</a><img src="/img/blue.jpg" alt="A small blue boat on a calm lake">""");
        MapPage(server, "/private/secret.html", "secret");
        MapPage(server, "/nofollow.html", """<a href="/behind-nofollow.html">more</a>""", meta: """<meta name="robots" content="nofollow">""");
        MapPage(server, "/behind-nofollow.html", "never");
        MapPage(server, "/opted-out.html", """<img src="/img/page-opted-out.jpg" alt="A grey castle on a hill at dawn">""", meta: """<meta name="robots" content="noai">""");
        MapPage(server, "/deep1.html", """<a href="/deep2.html">deeper</a>""");
        MapPage(server, "/deep2.html", """<a href="/deep3.html">deeper</a>""");
        MapPage(server, "/deep3.html", "too deep");
        server.Map("/slow.html", async (c, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3), c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            if (!c.RequestAborted.IsCancellationRequested) await Text(c, "text/html", "<html><body>late</body></html>");
        });
        Redirect(server, "/loop-a.html", _ => "/loop-b.html");
        Redirect(server, "/loop-b.html", _ => "/loop-a.html");
        Redirect(server, "/chain", c => $"/chain?n={int.Parse(c.Request.Query["n"]!) + 1}");
        return site;
    }

    /// <summary>Requests the server saw for <paramref name="path"/> (path and query), any host name.</summary>
    public int Requests(string path) => Server.Requests.Count(r => r.PathAndQuery == path);

    public int RequestsStartingWith(string prefix) => Server.Requests.Count(r => r.PathAndQuery.StartsWith(prefix, StringComparison.Ordinal));

    public void AssertOnlyAllowedContentFetched(IReadOnlyDictionary<string, long> stats, int maxRedirects)
    {
        foreach (var path in CrawlSite.NeverRequested) Assert.Equal(0, Requests(path));
        Assert.DoesNotContain(Server.Requests, r => r.Host != "127.0.0.1");
        Assert.Equal(1, Requests("/robots.txt"));
        foreach (var path in new[] { "/", "/harbour.html", "/hills.html", "/nofollow.html", "/opted-out.html", "/deep1.html", "/deep2.html",
                     "/img/red.jpg", "/img/green.jpg", "/img/blue.jpg", "/img/noai.jpg", "/slow.html", "/loop-a.html", "/loop-b.html" })
            Assert.Equal(1, Requests(path));
        Assert.Equal(maxRedirects + 1, RequestsStartingWith("/chain"));

        Assert.Equal(7, stats.GetValueOrDefault(CrawlStats.PagesFetched));
        Assert.Equal(3, stats.GetValueOrDefault(CrawlStats.ImagesFetched));
        Assert.Equal(1, stats.GetValueOrDefault(CrawlStats.Key(CrawlTargetKind.Page, FetchReasons.Timeout)));
        Assert.Equal(1, stats.GetValueOrDefault(CrawlStats.Key(CrawlTargetKind.Page, CrawlReasons.RedirectLoop)));
        Assert.Equal(1, stats.GetValueOrDefault(CrawlStats.Key(CrawlTargetKind.Page, FetchReasons.TooManyRedirects)));
        Assert.Equal(1, stats.GetValueOrDefault(CrawlStats.Key(CrawlTargetKind.Page, FetchReasons.RobotsDisallowed)));
        Assert.Equal(1, stats.GetValueOrDefault(CrawlStats.Key(CrawlTargetKind.Image, FetchReasons.RobotsDisallowed)));
        Assert.Equal(1, stats.GetValueOrDefault(CrawlStats.Key(CrawlTargetKind.Image, FetchReasons.OptedOut)));
        Assert.Equal(1, stats.GetValueOrDefault(CrawlReasons.LinkOffDomain));
        Assert.Equal(1, stats.GetValueOrDefault(CrawlReasons.LinkTooDeep));
    }

    /// <summary>
    /// The host's rate limit as the server saw it. The crawler starts requests at slots one delay apart;
    /// on a loaded machine a request can reach the server late (thread scheduling, connection set-up), never
    /// early, so two arrivals may come close while the rate still holds. Asserted: the arrivals span at least
    /// (n - 1) delays less one, and no window of ten delays holds more than eleven requests plus one late one.
    /// </summary>
    public void AssertRequestsSpacedBy(TimeSpan delay)
    {
        var times = Server.Requests.Select(r => r.At).Order().ToList();
        Assert.True(times.Count > 10);
        var span = times[^1] - times[0];
        Assert.True(span >= delay * (times.Count - 2), $"{times.Count} requests within {span.TotalMilliseconds} ms, delay {delay.TotalMilliseconds} ms");
        var window = delay * 10;
        var busiest = times.Max(start => times.Count(t => t >= start && t < start + window));
        Assert.True(busiest <= 12, $"{busiest} requests within {window.TotalMilliseconds} ms, delay {delay.TotalMilliseconds} ms");
    }

    private static void MapPage(LoopbackServer server, string path, string body, string meta = "") =>
        server.Map(path, (c, _) => Text(c, "text/html; charset=utf-8",
            $"<html lang=\"en\"><head><title>{path}</title>{meta}</head><body>{Prose}{body.Replace("HOST_OTHER", $"http://localhost:{c.Request.Host.Port}")}</body></html>"));

    private static void Redirect(LoopbackServer server, string path, Func<Microsoft.AspNetCore.Http.HttpContext, string> target) =>
        server.Map(path, (c, _) =>
        {
            c.Response.StatusCode = 302;
            c.Response.Headers.Location = target(c);
            return Task.CompletedTask;
        });

    private static Task Text(Microsoft.AspNetCore.Http.HttpContext c, string contentType, string text)
    {
        c.Response.ContentType = contentType;
        return c.Response.WriteAsync(text);
    }

    public static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
