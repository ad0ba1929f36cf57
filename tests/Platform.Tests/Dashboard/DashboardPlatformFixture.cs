using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Platform.Grains.Crawling;
using Platform.Grains.Datasets;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Tests.Crawling;
using Platform.Ingestion.Tests.Runs;
using Platform.Ingestion.Warc;
using Platform.Silo.Hosting;
using Platform.Tests.Crawling;
using Platform.Tests.Infrastructure;
using Platform.Tests.Training;
using SkiaSharp;

namespace Platform.Tests.Dashboard;

/// <summary>
/// One real `platform up` with one CPU device and a dataset made by a real ingest job: a small WARC posted to
/// `POST /api/ingest/jobs` (through Hangfire, as a person would) and waited for until it completed, so the pages show
/// what the platform itself wrote (manifest, shards, their stats and the job's funnel). A crawl of a loopback site runs
/// beside it (started, not waited for), so the crawl page has hosts whose politeness the cluster keeps.
/// </summary>
public sealed class DashboardPlatformFixture : IAsyncLifetime
{
    public const string Dataset = "web";
    public const string IngestJob = "web-ingest";
    public const int SamplesPerShard = 4;
    public const string Crawl = "site-crawl";

    /// <summary>Distinct photographs in the dump; besides them one copies a photograph's bytes and one is an icon, which the job rejects.</summary>
    public const int Photographs = 8;

    private static readonly string[] Things = ["bicycle", "lighthouse", "harbour", "tram", "castle", "garden", "bridge", "market"];

    private readonly string _root = Directory.CreateTempSubdirectory("dashboard-").FullName;
    private RunningPlatform? _platform;
    private PlatformClient? _client;
    private CrawlSite? _site;

    internal RunningPlatform Platform => _platform ?? throw new InvalidOperationException("not started");
    public IGrainFactory Grains => (_client ?? throw new InvalidOperationException("not started")).Grains;
    public string Root => _root;

    /// <summary>The Hangfire job that submitted the ingest job.</summary>
    public string IngestHangfireJob { get; private set; } = "";

    /// <summary>Where the ingest job wrote the dataset's shards, stats and funnel.</summary>
    public string DatasetLocation => Path.Combine(_root, "ingest", "dataset");

    /// <summary>The crawled site's origin, as the crawl's politeness is keyed.</summary>
    public string CrawledOrigin => new Uri((_site ?? throw new InvalidOperationException("not started")).Seed).GetLeftPart(UriPartial.Authority);

    /// <summary>What the crawled site's robots.txt asks between requests; the crawl's own minimum is shorter.</summary>
    public static TimeSpan CrawlDelay => CrawlSite.CrawlDelay;

    public static string Caption(int photograph) => $"A photograph of the old {Things[photograph % Things.Length]} seen on day {photograph}";

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _platform = await TrainCommandTests.StartWithOneCpuAsync(_root);
        _client = await PlatformClient.ConnectAsync(PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = _platform.Storage.ConnectionString,
            ["Clustering:GatewayPort"] = _platform.GatewayPort.ToString(),
            ["Clustering:ServiceId"] = PlatformProcess.ServiceId,
        }).Build()), ct);
        var submission = new
        {
            inputs = new[] { WriteDump() },
            output = Path.Combine(_root, "ingest"),
            dataset = Dataset,
            job = IngestJob,
            settings = new { samplesPerShard = SamplesPerShard },
        };
        using (var posted = await _platform.Http.PostAsJsonAsync("/api/ingest/jobs", submission, ct))
        {
            var answer = await posted.Content.ReadAsStringAsync(ct);
            Assert.True(posted.IsSuccessStatusCode, answer);
            IngestHangfireJob = JsonDocument.Parse(answer).RootElement.GetProperty("hangfireJob").GetString()!;
        }
        _site = await CrawlSite.StartAsync();
        await Grains.GetGrain<ICrawlJobGrain>(Crawl).Start(new CrawlJobRequest([_site.Seed], Path.Combine(_root, "crawl"), "crawled", CrawlJobGrainTests.TestSiteSettings with
        {
            SliceSize = 3,
            Ingest = new IngestJobSettings { LeaseTimeout = TimeSpan.FromSeconds(10) },
        }));
        await WaitForIngestAsync(ct);
    }

    /// <summary>One English page whose images are all in the dump: photographs that pass the image checks, a copy of one, and an icon.</summary>
    private string WriteDump()
    {
        var path = Path.Combine(_root, "in", "pages.warc.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var page = new StringBuilder($"<html lang=\"en\"><head><title>Day out</title></head><body>{RunSamples.Prose}");
        for (var i = 0; i < Photographs; i++) page.Append($"<img src=\"http://site.example/img/{i}.jpg\" alt=\"{Caption(i)}\">");
        page.Append("<img src=\"http://site.example/img/copy.jpg\" alt=\"The same photograph of the bicycle once again\">");
        page.Append("<img src=\"http://site.example/img/icon.png\" alt=\"A small round icon of the town's coat of arms\">");
        page.Append("</body></html>");
        using var file = File.Create(path);
        using var warc = new WarcWriter(file);
        RunSamples.WritePage(warc, "http://site.example/day.html", page.ToString());
        byte[] Photograph(int i) => RunSamples.NoisyImage(new SKColor((byte)(30 * i), (byte)(240 - 30 * i), (byte)(90 + 20 * i)), seed: i);
        for (var i = 0; i < Photographs; i++) RunSamples.WriteImage(warc, $"http://site.example/img/{i}.jpg", Photograph(i), "image/jpeg");
        RunSamples.WriteImage(warc, "http://site.example/img/copy.jpg", Photograph(0), "image/jpeg");
        using (var icon = new SKBitmap(16, 16))
        {
            icon.Erase(SKColors.Gold);
            using var png = icon.Encode(SKEncodedImageFormat.Png, 100);
            RunSamples.WriteImage(warc, "http://site.example/img/icon.png", png.ToArray(), "image/png");
        }
        return path;
    }

    private async Task WaitForIngestAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            using var response = await Platform.Http.GetAsync($"/api/ingest/jobs/{IngestJob}", ct);
            last = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode)
            {
                using var status = JsonDocument.Parse(last);
                var phase = status.RootElement.GetProperty("phase").GetString();
                if (phase == "Completed" && (await Grains.GetGrain<IDatasetGrain>(Dataset).GetTotals()).ShardCount > 0) return;
                Assert.NotEqual("Failed", phase);
            }
            await Task.Delay(300, ct);
        }
        Assert.Fail($"ingest job {IngestJob} did not complete in three minutes; last status: {last}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_platform is not null) await _platform.DisposeAsync();
        if (_site is not null) await _site.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}
