using System.Text.Json;
using Platform.Grains.Crawling;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Crawling;
using Platform.Ingestion.Tests.Crawling;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Crawling;

[Collection(SharedClusterCollection.Name)]
public sealed class CrawlJobGrainTests(SharedClusterFixture shared) : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("crawl-job-").FullName;
    private CrawlSite site = null!;

    public async ValueTask InitializeAsync() => site = await CrawlSite.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await site.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    /// <summary>A crawl of the <see cref="CrawlSite"/> that takes seconds: its slow page times out, and its Crawl-delay, longer than the minimum, spaces the requests.</summary>
    internal static CrawlJobSettings TestSiteSettings => new()
    {
        AllowLoopback = true,
        MaxDepth = 2,
        MaxRedirects = 3,
        RequestTimeout = TimeSpan.FromMilliseconds(500),
        MinDelay = TimeSpan.FromMilliseconds(50),
    };

    [Fact]
    public async Task A_crawl_on_two_silos_shares_each_hosts_politeness_through_its_grain_and_ingests_its_warc_into_the_dataset()
    {
        var settings = TestSiteSettings with
        {
            // Small slices, several out at once: workers on both silos ask the same host grain.
            SliceSize = 3,
            MaxSlicesInFlight = 4,
            Ingest = new IngestJobSettings { LeaseTimeout = TimeSpan.FromSeconds(5) },
        };
        var crawlId = "crawl-" + Guid.NewGuid().ToString("N")[..8];
        var job = shared.Grains.GetGrain<ICrawlJobGrain>(crawlId);
        var request = new CrawlJobRequest([site.Seed], root, "crawled", settings);
        var started = await job.Start(request);
        Assert.Equal(CrawlJobPhase.Crawling, started.Phase);
        // Starting again (a retried command) changes nothing.
        Assert.Equal(started.PagesAdmitted, (await job.Start(request)).PagesAdmitted);

        var deadline = DateTime.UtcNow.AddMinutes(2);
        var status = started;
        var sawProgress = false;
        while (!status.IsOver)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the crawl did not finish: {status.Phase}, {status.SlicesDone} slices done");
            await Task.Delay(100, TestContext.Current.CancellationToken);
            status = await job.GetStatus();
            sawProgress |= status.Phase == CrawlJobPhase.Crawling && status.SlicesDone > 0;
        }

        Assert.True(status.Phase == CrawlJobPhase.Completed, status.Error);
        Assert.True(sawProgress, "progress should be observable while the crawl runs");
        Assert.True(status.SlicesDone > 3);
        site.AssertOnlyAllowedContentFetched(status.Stats, settings.MaxRedirects);
        site.AssertRequestsSpacedBy(CrawlSite.CrawlDelay);

        // The ingest job of the dataset read the crawl's WARC files: the pairs whose images the crawl
        // archived are kept with their images found in the dump; the opted-out and disallowed images are not in it.
        Assert.Equal(IngestSubmissions.CrawlJobId(crawlId), status.IngestJobId);
        Assert.Equal(IngestJobPhase.Completed, status.Ingest!.Phase);
        Assert.Equal(status.WarcFiles.Count, status.Ingest.Units.Count);
        var inDump = File.ReadLines(Path.Combine(root, "ingest", "candidates.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(pair => pair.GetProperty("image_in_dump").GetBoolean())
            .Select(pair => pair.GetProperty("alt_text").GetString())
            .Order()
            .ToList();
        Assert.Equal(site.ExpectedPairs.Keys.Order(), inDump);
        Assert.Empty(Directory.GetFiles(Path.Combine(root, "warc"), "*.open"));

        // What the pages show of the crawl's hosts: the site's URLs, none left waiting or out, and the politeness its grain kept.
        var origin = new Uri(site.Seed).GetLeftPart(UriPartial.Authority);
        var load = Assert.Single(await job.GetHosts(10), h => h.Origin == origin);
        Assert.True(load.Seen > 3, $"{load.Seen} URLs seen");
        Assert.Equal((0, 0), (load.Pending, load.InFlight));
        var politeness = await shared.Grains.GetGrain<ICrawlHostGrain>(origin).GetStatus();
        Assert.Equal(("Found", CrawlSite.CrawlDelay), (politeness.Robots, politeness.CrawlDelay));
        Assert.NotNull(politeness.NextFetchAt);
        Assert.Contains(await shared.Grains.GetGrain<Platform.Grains.Jobs.IJobDirectoryGrain>(Platform.Grains.Jobs.IJobDirectoryGrain.Key).Recent(Platform.Grains.Jobs.JobKind.Crawl, 100),
            entry => entry.JobId == crawlId);
    }
}
