using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Platform.Datasets;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Azure.Storage.Blobs;
using Platform.Ingestion.Tests.Fetching;
using Platform.Ingestion.Tests.Shards;
using Platform.Ingestion.Warc;
using SkiaSharp;
using Xunit;
using Platform.Ingestion.Stages;

namespace Platform.Ingestion.Tests.Runs;

public sealed class IngestRunTests(AzuriteBlob azurite) : IAsyncLifetime, IClassFixture<AzuriteBlob>
{
    private const string Site = "http://site.test";
    private readonly string root = Directory.CreateTempSubdirectory("ingest-run").FullName;
    private LoopbackServer server = null!;
    private string warcPath = "";

    /// <summary>Caption to the SHA-256 of the original image bytes, for every pair that must end up in a shard.</summary>
    private readonly Dictionary<string, string> expected = [];

    public async ValueTask InitializeAsync()
    {
        server = await LoopbackServer.StartAsync();
        var red = RunSamples.NoisyImage(new SKColor(200, 40, 40), seed: 1);
        var green = RunSamples.NoisyImage(new SKColor(40, 200, 40), seed: 2, SKEncodedImageFormat.Png);
        var blue = RunSamples.NoisyImage(new SKColor(40, 40, 200), seed: 3);
        var yellow = RunSamples.NoisyImage(new SKColor(220, 220, 40), seed: 4);
        var grey = RunSamples.NoisyImage(new SKColor(128, 128, 128), seed: 5);
        server.MapImage("/web/blue.jpg", blue);

        expected["A red bicycle leaning against a brick wall"] = Sha(red);
        expected["Green hills under a wide summer sky"] = Sha(green);
        expected["A small blue boat on a calm lake"] = Sha(blue);

        var page = $"""
            <html lang="en"><head><title>Harbour day</title></head><body>{RunSamples.Prose}
            <img src="{Site}/img/red.jpg" alt="A red bicycle leaning against a brick wall">
            <img src="{Site}/img/green.png" alt="Green hills under a wide summer sky">
            <img src="{server.Url("/web/blue.jpg")}" alt="A small blue boat on a calm lake">
            <img src="{Site}/img/yellow.jpg" alt="A yellow taxi waiting at the corner">
            <img src="{server.Url("/web/missing.jpg")}" alt="A tall lighthouse on a rocky coast">
            <img src="{Site}/img/noalt.jpg">
            <img src="{Site}/img/short.jpg" alt="hi">
            <img src="{Site}/img/few.jpg" alt="two words">
            </body></html>
            """;
        var optedOutPage = $"""
            <html lang="en"><head><meta name="robots" content="noai"><title>Private</title></head><body>
            <img src="{Site}/img/grey.jpg" alt="A grey castle on a hill at dawn"></body></html>
            """;
        warcPath = Path.Combine(root, "crawl.warc.gz");
        await using (var file = File.Create(warcPath))
        using (var warc = new WarcWriter(file))
        {
            RunSamples.WritePage(warc, $"{Site}/harbour.html", page);
            RunSamples.WriteImage(warc, $"{Site}/img/red.jpg", red, "image/jpeg");
            RunSamples.WriteImage(warc, $"{Site}/img/green.png", green, "image/png");
            RunSamples.WriteImage(warc, $"{Site}/img/yellow.jpg", yellow, "image/jpeg", robotsTag: "noai");
            RunSamples.WritePage(warc, $"{Site}/private.html", optedOutPage);
            RunSamples.WriteImage(warc, $"{Site}/img/grey.jpg", grey, "image/jpeg");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    private IngestRunOptions Options(int samplesPerShard) => new()
    {
        Downloader = new DownloaderOptions { AllowLoopback = true, RetryBaseDelay = TimeSpan.FromMilliseconds(10) },
        Shards = new ShardWriterOptions { SamplesPerShard = samplesPerShard, MaxParallelism = 2 },
        WorkDirectory = Path.Combine(root, $"work-{samplesPerShard}"),
    };

    [Fact]
    public async Task Dump_and_web_images_become_exactly_the_expected_pairs_with_every_rejection_counted_and_a_rerun_changes_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var output = Path.Combine(root, "dataset");
        var store = new LocalDatasetFolder(output);

        var summary = await IngestRun.RunAsync([warcPath], store, Options(samplesPerShard: 100), cancellationToken: ct);

        var samples = ReadShards(output);
        Assert.Equal(expected.OrderBy(p => p.Key), samples.OrderBy(p => p.Key));
        Assert.Equal(1, server.Hits("/web/blue.jpg"));
        Assert.True(Directory.Exists(Path.Combine(root, "work-100")));
        Assert.False(Directory.Exists(Path.Combine(root, "work-100", summary.JobId)));

        var funnel = summary.Funnel;
        Assert.Equal(1, funnel.Rejections(ExtractionRun.CandidatesStage, "no_alt"));
        Assert.Equal(1, funnel.Rejections(ExtractionRun.CandidatesStage, "alt_too_short"));
        Assert.Equal(1, funnel.Rejections(ExtractionRun.CandidatesStage, "alt_too_few_words"));
        Assert.Equal(1, funnel.Rejections(ExtractionRun.CandidatesStage, "page_opt_out"));
        Assert.Equal(1, funnel.Rejections(ExtractionRun.FrequencyStage, "image_opt_out"));
        Assert.Equal(1, funnel.Rejections(FunnelStage.ShardStage, FetchReasons.HttpStatus(404)));
        Assert.Equal(4, funnel.Stage(FunnelStage.ShardStage).In);
        Assert.Equal(3, funnel.Stage(FunnelStage.ShardStage).Passed);
        Assert.Equal(funnel.Stage(ExtractionRun.FrequencyStage).Passed, funnel.Stage(FunnelStage.ShardStage).In);
        Assert.Equal(2, funnel.Notes(FunnelStage.ShardStage, "image_in_dump"));
        Assert.Equal(2, funnel.Notes(FunnelStage.ShardStage, "image_from_web"));

        using (var written = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, FunnelStage.FunnelFileName(summary.JobId)))))
        {
            var shards = written.RootElement.GetProperty("stages").EnumerateArray().Single(s => s.GetProperty("stage").GetString() == FunnelStage.ShardStage);
            Assert.Equal(1, shards.GetProperty("rejected").GetProperty("http_404").GetInt64());
        }
        var text = File.ReadAllLines(Path.Combine(output, FunnelStage.TextFileName(summary.JobId)));
        Assert.Equal(summary.TextDocuments, text.Length);
        Assert.Contains(text, line => line.Contains($"{Site}/harbour.html") && line.Contains("old stone pier"));

        var before = Snapshot(output);
        var again = await IngestRun.RunAsync([warcPath], store, Options(samplesPerShard: 100), cancellationToken: ct);

        Assert.Equal(summary.JobId, again.JobId);
        Assert.Equal(0, again.Shards.ShardsWritten);
        Assert.Equal(1, again.Shards.ShardsAlreadyCommitted);
        Assert.Equal(before, Snapshot(output));
        Assert.Equal(1, server.Hits("/web/blue.jpg"));
    }

    [Fact]
    public async Task A_rerun_after_a_crash_redoes_only_the_uncommitted_shard_and_ends_with_the_same_files()
    {
        var ct = TestContext.Current.CancellationToken;
        var output = Path.Combine(root, "resumed");
        var store = new LocalDatasetFolder(output);
        var first = await IngestRun.RunAsync([warcPath], store, Options(samplesPerShard: 2), cancellationToken: ct);
        Assert.Equal(2, first.ShardCount);
        var complete = Snapshot(output);

        // A crash after the tar of the second shard was published but before its commit marker.
        var marker = DatasetLayout.StatsName(first.Shards.FirstShard + 1);
        File.Delete(Path.Combine(output, marker));
        File.Delete(Path.Combine(output, FunnelStage.FunnelFileName(first.JobId)));

        var resumed = await IngestRun.RunAsync([warcPath], store, Options(samplesPerShard: 2), cancellationToken: ct);

        Assert.Equal(1, resumed.Shards.ShardsWritten);
        Assert.Equal(1, resumed.Shards.ShardsAlreadyCommitted);
        Assert.Equal(complete, Snapshot(output));
        Assert.Equal(expected.OrderBy(p => p.Key), ReadShards(output).OrderBy(p => p.Key));
    }

    [Fact]
    public async Task A_run_into_a_new_blob_container_url_writes_the_same_files_as_a_run_into_a_folder()
    {
        var ct = TestContext.Current.CancellationToken;
        if (azurite.ConnectionString is null) Assert.Skip(azurite.MissingReason ?? "Azurite unavailable");
        var container = new BlobContainerClient(azurite.ConnectionString, $"run-{Guid.NewGuid():N}");
        var local = Path.Combine(root, "local");
        await IngestRun.RunAsync([warcPath], new LocalDatasetFolder(local), Options(samplesPerShard: 100), cancellationToken: ct);

        var blob = await DatasetTarget.OpenAsync($"{container.Uri}/datasets/web", azurite.ConnectionString, ct);
        await IngestRun.RunAsync([warcPath], blob, Options(samplesPerShard: 100), cancellationToken: ct);

        var uploaded = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await foreach (var item in container.GetBlobsAsync(cancellationToken: ct))
        {
            Assert.StartsWith("datasets/web/", item.Name);
            var content = await container.GetBlobClient(item.Name).DownloadContentAsync(ct);
            uploaded[item.Name["datasets/web/".Length..]] = Sha(content.Value.Content.ToArray());
        }
        Assert.Equal(Snapshot(local), uploaded);
    }

    [Fact]
    public async Task A_whole_file_gzip_dump_gives_the_same_pairs_as_a_per_record_gzip_one()
    {
        var ct = TestContext.Current.CancellationToken;
        var plain = new MemoryStream();
        await using (var members = new System.IO.Compression.GZipStream(File.OpenRead(warcPath), System.IO.Compression.CompressionMode.Decompress))
            await members.CopyToAsync(plain, ct);
        var whole = Path.Combine(root, "whole.warc.gz");
        await File.WriteAllBytesAsync(whole, WarcSamples.GzipWhole(plain.ToArray()), ct);
        var output = Path.Combine(root, "whole");

        var summary = await IngestRun.RunAsync([whole], new LocalDatasetFolder(output), Options(samplesPerShard: 100), cancellationToken: ct);

        Assert.Equal(expected.OrderBy(p => p.Key), ReadShards(output).OrderBy(p => p.Key));
        Assert.Equal(2, summary.Funnel.Notes(FunnelStage.ShardStage, "image_in_dump"));
    }

    [Fact]
    public void The_job_id_follows_the_inputs_and_the_settings_that_shape_the_shards()
    {
        var id = IngestRun.JobIdFor([warcPath], Options(samplesPerShard: 100));
        Assert.Matches("^run-[0-9a-f]{16}$", id);
        Assert.Equal(id, IngestRun.JobIdFor([warcPath], Options(samplesPerShard: 100)));
        Assert.NotEqual(id, IngestRun.JobIdFor([warcPath], Options(samplesPerShard: 2)));
        Assert.NotEqual(id, IngestRun.JobIdFor([warcPath], Options(samplesPerShard: 100) with
        {
            Extraction = new ExtractionOptions { AltText = new Platform.Ingestion.Filters.AltTextFilterOptions { Languages = new HashSet<string> { "de" } } },
        }));

        var copy = Path.Combine(root, "copy", Path.GetFileName(warcPath));
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        var bytes = File.ReadAllBytes(warcPath);
        File.WriteAllBytes(copy, bytes);
        Assert.Equal(id, IngestRun.JobIdFor([copy], Options(samplesPerShard: 100)));
        bytes[^10] ^= 0xff;
        File.WriteAllBytes(copy, bytes);
        Assert.NotEqual(id, IngestRun.JobIdFor([copy], Options(samplesPerShard: 100)));
    }

    [Theory]
    [InlineData("per-record gzip")]
    [InlineData("uncompressed")]
    [InlineData("whole-file gzip")]
    public void Every_image_found_by_extraction_is_read_back_from_the_dump_byte_for_byte_one_by_one_and_in_one_pass(string layout)
    {
        var images = Enumerable.Range(0, 4).Select(i => RunSamples.NoisyImage(new SKColor((byte)(60 * i), 90, 150), seed: 10 + i)).ToList();
        var plain = new MemoryStream();
        using (var warc = new WarcWriter(plain, gzipPerRecord: layout == "per-record gzip", leaveOpen: true))
            for (var i = 0; i < images.Count; i++)
            {
                RunSamples.WritePage(warc, $"{Site}/p{i}.html", "<html lang=en><body><p>filler</p></body></html>");
                RunSamples.WriteImage(warc, $"{Site}/i{i}.jpg", images[i], "image/jpeg");
            }
        var bytes = layout == "whole-file gzip" ? WarcSamples.GzipWhole(plain.ToArray()) : plain.ToArray();
        var path = Path.Combine(root, $"layout-{layout.Replace(' ', '-')}.warc");
        File.WriteAllBytes(path, bytes);

        var index = new InProcessImageIndex();
        using (var run = new ExtractionRun(new ExtractionOptions(), new CollectingSink(), images: index))
        using (var file = File.OpenRead(path))
            run.AddWarc(file, path, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(images.Count, index.Count);
        for (var i = 0; i < images.Count; i++)
        {
            Assert.True(index.TryGet($"{Site}/i{i}.jpg", out var dumped));
            var read = DumpedImageReader.Read(dumped!, new WarcReaderOptions(), 1 << 20);
            Assert.Null(read.FailureReason);
            Assert.Equal(images[i], read.Payload);
        }

        // The one-pass copy must agree with reading each record back on its own.
        using var spool = new SequentialDumpSpool(Path.Combine(root, $"spool-{layout.Replace(' ', '-')}.bin"));
        var all = Enumerable.Range(0, images.Count).Select(i => index.TryGet($"{Site}/i{i}.jpg", out var d) ? d! : throw new InvalidOperationException()).ToList();
        spool.Collect(path, all, new WarcReaderOptions(), 1 << 20, TestContext.Current.CancellationToken);
        Assert.Equal(layout == "whole-file gzip", all.Skip(1).All(d => DumpedImageReader.NeedsSequentialRead(d, DumpedImageReader.IsGzip)));
        for (var i = 0; i < images.Count; i++)
        {
            Assert.True(spool.TryRead($"{Site}/i{i}.jpg", out var copied));
            Assert.Equal(images[i], copied.Payload);
        }
        Assert.False(spool.TryRead($"{Site}/elsewhere.jpg", out _));
    }

    /// <summary>Caption to SHA-256 of the original bytes of every sample in every shard.</summary>
    private static List<KeyValuePair<string, string>> ReadShards(string folder) =>
        [.. Directory.GetFiles(folder, "*.tar").Order().SelectMany(tar => WebDatasetShardReader.Read(tar)).Select(sample =>
        {
            using var json = JsonDocument.Parse(sample.Files["json"]);
            Assert.True(sample.Files["jpg"].Length > 0);
            return KeyValuePair.Create(Encoding.UTF8.GetString(sample.Files["txt"]), json.RootElement.GetProperty("sha256").GetString()!);
        })];

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static SortedDictionary<string, string> Snapshot(string folder) => new(
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f), f => Sha(File.ReadAllBytes(f))), StringComparer.Ordinal);
}
