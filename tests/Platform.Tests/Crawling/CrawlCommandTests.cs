using Platform.Ingestion.Tests.Crawling;
using Platform.Silo.Cli;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Crawling;

/// <summary>`platform crawl` as a real process against a running `platform up`.</summary>
public sealed class CrawlCommandTests : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("crawl-cli-").FullName;
    private CrawlSite site = null!;

    public async ValueTask InitializeAsync() => site = await CrawlSite.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await site.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunPlatformAsync(StorageConnection storage, int gatewayPort, params string[] args)
    {
        var result = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(10), PlatformProcess.ClientEnvironment(storage, gatewayPort), args);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    [Fact]
    public async Task Crawl_prints_its_id_follows_progress_to_the_ingested_dataset_and_a_repeat_follows_the_same_crawl()
    {
        var output = Path.Combine(root, "out");
        var gatewayPort = AzuriteEmulator.FreeTcpPort();
        await using var platform = PlatformProcess.StartUp(gatewayPort: gatewayPort);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        await platform.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));

        string[] crawl = ["crawl", site.Seed, "--dataset", "crawled", "--out", output, "--max-depth", "2", "--delay-ms", "50", "--allow-loopback"];
        var first = await RunPlatformAsync(platform.Storage, gatewayPort, crawl);
        Assert.True(first.ExitCode == 0, first.Stdout + first.Stderr);
        var id = first.Stdout.Trim();
        Assert.Equal(CrawlCommand.JobIdFor([site.Seed], "crawled", output), id);
        Assert.Contains($"{id}: Crawling,", first.Stderr);
        // The slow page answers within the default 10 s timeout here: eight pages.
        Assert.True(first.Stderr.Contains($"{id}: Completed, 8 pages and 3 images fetched"), first.Stderr);
        Assert.Contains("page_robots_disallowed=1", first.Stderr);
        Assert.Contains("ingest crawl-" + id + ": Completed", first.Stderr);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(output, "warc"), "*.warc.gz"));
        Assert.Equal(1, site.Requests("/robots.txt"));

        var again = await RunPlatformAsync(platform.Storage, gatewayPort, crawl);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(id, again.Stdout.Trim());
        Assert.Equal(1, site.Requests("/")); // the finished crawl is reported, not run again

        var refused = await RunPlatformAsync(platform.Storage, gatewayPort, "crawl", "ftp://example.org/", "--dataset", "x");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("Not an http(s) URL", refused.Stderr);
    }
}
