using Parquet.Serialization;
using Platform.Datasets;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Images;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Tests.Images;
using Xunit;

namespace Platform.Ingestion.Tests.Fetching;

public sealed class DownloadToShardTests
{
    [Fact]
    public async Task Downloaded_images_become_a_shard_and_every_failure_is_a_parquet_row_with_its_reason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LoopbackServer.StartAsync();
        server.Map("/robots.txt", (context, _) =>
        {
            context.Response.StatusCode = 200;
            return context.Response.Body.WriteAsync("User-agent: *\nDisallow: /nobots/\n"u8.ToArray()).AsTask();
        });
        server.MapImage("/ok1.jpg", TestImages.Jpeg(64, 64, seed: 1));
        server.MapImage("/ok2.png", TestImages.Encode(TestImages.Scene(64, 64, seed: 2), SkiaSharp.SKEncodedImageFormat.Png), "image/png");
        server.MapImage("/optout.jpg", TestImages.Jpeg(64, 64, seed: 3), robotsTag: "noai");
        server.MapImage("/nobots/a.jpg", TestImages.Jpeg(64, 64, seed: 4));
        server.MapImage("/corrupt.jpg", TestImages.Jpeg(64, 64, seed: 5)[..300]);
        var candidates = new[] { "/ok1.jpg", "/missing.jpg", "/optout.jpg", "/nobots/a.jpg", "/corrupt.jpg", "/ok2.png" }
            .Select(path => new ImageCandidate(server.Url(path), $"caption for {path}")).ToList();
        var folder = Directory.CreateTempSubdirectory("download-shard").FullName;
        try
        {
            using var downloader = new HttpImageDownloader(new DownloaderOptions { AllowLoopback = true, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });
            var writer = new InProcessShardPhase(new LocalDatasetFolder(Path.Combine(folder, "dataset")), downloader,
                new ImageProcessor(new ImageOptions { MinShorterSide = 32, MinBytes = 0, ImageSize = 32 }),
                new DedupeOptions(), new ShardWriterOptions { SamplesPerShard = 100, MaxParallelism = 2 }, new IngestJobLayout(Path.Combine(folder, "work")));

            var summary = await writer.RunAsync(candidates, "download", ct);

            await using var parquet = File.OpenRead(Path.Combine(folder, "dataset", "00000.parquet"));
            var rows = (await ParquetSerializer.DeserializeAsync<SampleRecord>(parquet, cancellationToken: ct)).Data;
            Assert.Equal(
                ["success", "failed_to_download:http_404", "failed_to_download:x_robots_tag_opt_out",
                 "failed_to_download:robots_disallowed", "rejected:truncated", "success"],
                rows.Select(r => r.ErrorMessage is null ? r.Status : $"{r.Status}:{r.ErrorMessage}"));
            Assert.Equal(2, summary.Totals.Successes);
            Assert.Equal(0, server.Hits("/nobots/a.jpg"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
