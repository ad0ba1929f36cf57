using Platform.Ingestion.Crawling;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Warc;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Platform.Ingestion.Tests.Crawling;

public sealed class CrawlerTests : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("crawl").FullName;
    private CrawlSite site = null!;

    public async ValueTask InitializeAsync() => site = await CrawlSite.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await site.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    public static CrawlOptions SiteOptions => new()
    {
        AllowLoopback = true,
        MaxDepth = 2,
        MaxRedirects = 3,
        RequestTimeout = TimeSpan.FromMilliseconds(500),
        Politeness = new PolitenessOptions { MinDelay = TimeSpan.FromMilliseconds(50) },
    };

    [Fact]
    public async Task A_crawl_fetches_only_allowed_content_spaced_by_the_crawl_delay_and_its_warc_reingests_to_the_expected_pairs()
    {
        var ct = TestContext.Current.CancellationToken;
        var warcs = Path.Combine(root, "warc");
        var summary = await Crawler.RunAsync([site.Seed], warcs, SiteOptions, cancellationToken: ct);

        AssertOnlyAllowedContentFetched(site, summary.Stats, SiteOptions.MaxRedirects);
        AssertRequestsSpacedBy(site.Server, CrawlSite.CrawlDelay);

        // The archive: every response read, each with its request; the opted-out image's body was never read.
        var records = ReadRecords(summary.WarcFiles);
        var responses = records.Where(r => r.Type == "response").Select(r => r.TargetUri!).ToList();
        Assert.Equal(responses.Count, records.Count(r => r.Type == "request"));
        Assert.Contains(site.Server.Url("/img/red.jpg"), responses);
        Assert.Contains(site.Server.Url("/loop-b.html"), responses);
        Assert.DoesNotContain(site.Server.Url("/img/noai.jpg"), responses);
        Assert.DoesNotContain(site.Server.Url("/slow.html"), responses);
        Assert.Equal(responses.Count, responses.Distinct().Count());
        Assert.All(summary.WarcFiles, f => Assert.EndsWith(".warc.gz", f));
        Assert.Empty(Directory.GetFiles(warcs, "*.open"));

        var samples = await ReingestAsync(summary.WarcFiles, Path.Combine(root, "dataset"), ct);
        Assert.Equal(site.ExpectedPairs.OrderBy(p => p.Key), samples.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task The_page_budget_bounds_the_pages_fetched_and_counts_the_links_left_out()
    {
        var options = SiteOptions with
        {
            MaxPages = 3,
            FetchImages = false,
            Politeness = new PolitenessOptions { MinDelay = TimeSpan.Zero, MaxCrawlDelay = TimeSpan.Zero },
        };
        var summary = await Crawler.RunAsync([site.Seed], Path.Combine(root, "warc"), options, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(3, summary.PagesAdmitted);
        // The seed and the first two links in document order.
        Assert.Equal(3, summary.PagesFetched);
        Assert.Equal(1, site.Requests("/harbour.html"));
        Assert.Equal(1, site.Requests("/hills.html"));
        Assert.Equal(0, site.Requests("/slow.html"));
        Assert.Equal(0, site.RequestsStartingWith("/img/"));
        Assert.True(summary.Stats[CrawlReasons.LinkOverPageBudget] > 0);
    }

    internal static void AssertOnlyAllowedContentFetched(CrawlSite site, IReadOnlyDictionary<string, long> stats, int maxRedirects)
    {
        foreach (var path in CrawlSite.NeverRequested) Assert.Equal(0, site.Requests(path));
        Assert.DoesNotContain(site.Server.Requests, r => r.Host != "127.0.0.1");
        Assert.Equal(1, site.Requests("/robots.txt"));
        foreach (var path in new[] { "/", "/harbour.html", "/hills.html", "/nofollow.html", "/opted-out.html", "/deep1.html", "/deep2.html",
                     "/img/red.jpg", "/img/green.jpg", "/img/blue.jpg", "/img/noai.jpg", "/slow.html", "/loop-a.html", "/loop-b.html" })
            Assert.Equal(1, site.Requests(path));
        Assert.Equal(maxRedirects + 1, site.RequestsStartingWith("/chain"));

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

    /// <summary>Arrival times at the server: no two requests closer than the delay (less a little for connection set-up).</summary>
    internal static void AssertRequestsSpacedBy(Fetching.LoopbackServer server, TimeSpan delay)
    {
        var times = server.Requests.Select(r => r.At).Order().ToList();
        Assert.True(times.Count > 10);
        var gaps = times.Zip(times.Skip(1), (a, b) => b - a).ToList();
        var tolerance = TimeSpan.FromMilliseconds(30);
        Assert.True(gaps.Min() >= delay - tolerance, $"smallest gap {gaps.Min().TotalMilliseconds} ms, delay {delay.TotalMilliseconds} ms");
    }

    internal static List<WarcRecord> ReadRecords(IEnumerable<string> files)
    {
        var records = new List<WarcRecord>();
        foreach (var file in files)
        {
            using var stream = File.OpenRead(file);
            using var reader = new WarcReader(stream, new FunnelStats());
            records.AddRange(reader.ReadAll());
        }
        return records;
    }

    /// <summary>`platform ingest run` over the crawl's WARC files: caption to image SHA-256 of every sample in the shards.</summary>
    internal static async Task<List<KeyValuePair<string, string>>> ReingestAsync(IReadOnlyList<string> warcs, string output, CancellationToken ct)
    {
        // The default downloader refuses loopback: every image in the dataset must come from the crawl's own archive.
        await IngestRun.RunAsync(warcs, new LocalDatasetFolder(output), new IngestRunOptions { WorkDirectory = output + "-work" }, cancellationToken: ct);
        return [.. Directory.GetFiles(output, "*.tar").Order().SelectMany(tar => WebDatasetShardReader.Read(tar)).Select(sample =>
        {
            using var json = JsonDocument.Parse(sample.Files["json"]);
            return KeyValuePair.Create(Encoding.UTF8.GetString(sample.Files["txt"]), json.RootElement.GetProperty("sha256").GetString()!);
        })];
    }
}
