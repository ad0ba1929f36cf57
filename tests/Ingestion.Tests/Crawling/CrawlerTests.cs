using Platform.Datasets;
using Platform.Ingestion.Crawling;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
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
        // Half the slow page's 3 s, and far more than a busy machine takes to answer the other pages (500 ms timed them out under CI load).
        RequestTimeout = TimeSpan.FromMilliseconds(1500),
        Politeness = new PolitenessOptions { MinDelay = TimeSpan.FromMilliseconds(50) },
    };

    [Fact]
    public async Task A_crawl_fetches_only_allowed_content_spaced_by_the_crawl_delay_and_its_warc_reingests_to_the_expected_pairs()
    {
        var ct = TestContext.Current.CancellationToken;
        var warcs = Path.Combine(root, "warc");
        var summary = await Crawler.RunAsync([site.Seed], warcs, SiteOptions, cancellationToken: ct);

        site.AssertOnlyAllowedContentFetched(summary.Stats, SiteOptions.MaxRedirects);
        site.AssertRequestsSpacedBy(CrawlSite.CrawlDelay);

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
