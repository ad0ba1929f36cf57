using System.Text.RegularExpressions;
using Platform.Datasets;
using Platform.Ingestion.Tests.Runs;
using Platform.Ingestion.Warc;
using Platform.Tests.Infrastructure;
using SkiaSharp;

namespace Platform.Tests.Datasets;

/// <summary>`platform train --dataset NAME` as a real process: the dataset's committed shards found through its manifest.</summary>
public sealed partial class TrainOnDatasetTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("train-dataset-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>A dump of one page whose images are all in it, distinct and large enough to pass the image checks.</summary>
    private string WriteDump(int images)
    {
        var path = Path.Combine(root, "in", "pages.warc.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string[] things = ["bicycle", "lighthouse", "harbour", "tram", "castle", "garden", "bridge", "market"];
        var page = new System.Text.StringBuilder($"<html lang=\"en\"><head><title>Day out</title></head><body>{RunSamples.Prose}");
        for (var i = 0; i < images; i++) page.Append($"<img src=\"http://site.example/img/{i}.jpg\" alt=\"A photograph of the old {things[i % things.Length]} seen on day {i}\">");
        page.Append("</body></html>");
        using (var file = File.Create(path))
        using (var warc = new WarcWriter(file))
        {
            RunSamples.WritePage(warc, "http://site.example/day.html", page.ToString());
            for (var i = 0; i < images; i++)
                RunSamples.WriteImage(warc, $"http://site.example/img/{i}.jpg", RunSamples.NoisyImage(new SKColor((byte)(30 * i), (byte)(240 - 30 * i), (byte)(90 + 20 * i)), seed: i), "image/jpeg");
        }
        return path;
    }

    private static async Task IngestAsync(RunningPlatform platform, params string[] submit)
    {
        var submitted = await platform.RunAsync(["ingest", "submit", .. submit]);
        Assert.True(submitted.ExitCode == 0, submitted.Stderr);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        (int ExitCode, string Stdout, string Stderr) status;
        do status = await platform.RunAsync("ingest", "status", submitted.Stdout.Trim());
        while (!status.Stdout.Contains(": Completed,", StringComparison.Ordinal) && status.ExitCode == 0 && DateTime.UtcNow < deadline);
        Assert.True(status.Stdout.Contains(": Completed,", StringComparison.Ordinal), status.Stdout + status.Stderr);
    }

    private string[] Train(string run, params string[] data) =>
        ["train", .. data, "--preset", "tiny", "--steps", "3", "--batch", "4", "--warmup", "1", "--threads", "1", "--device", "cpu", "--out", Path.Combine(root, run)];

    /// <summary>Each step's loss and gradient norm: what the batches decide (timings differ from run to run).</summary>
    private static string[] Losses(string stdout) => [.. StepLine().Matches(stdout).Select(m => m.Value)];

    [GeneratedRegex(@"step=\d+ loss=\S+ lr=\S+ grad_norm=\S+")]
    private static partial Regex StepLine();

    [Fact]
    public async Task Training_on_a_dataset_ingested_to_a_folder_or_a_blob_container_sees_the_batches_its_tars_give()
    {
        var ct = TestContext.Current.CancellationToken;
        var dump = WriteDump(images: 7);
        await using var platform = await RunningPlatform.StartAsync();
        var containerUrl = $"{platform.Storage.BlobEndpoint.ToString().TrimEnd('/')}/shards";
        await platform.Storage.CreateBlobClient().GetBlobContainerClient("shards").CreateIfNotExistsAsync(cancellationToken: ct);
        await IngestAsync(platform, dump, "--dataset", "in-folder", "--out", Path.Combine(root, "folder"), "--samples-per-shard", "3");
        await IngestAsync(platform, dump, "--dataset", "in-blobs", "--out", Path.Combine(root, "blobs"), "--samples-per-shard", "3",
            "--dataset-location", containerUrl + "/datasets/in-blobs");
        var manifests = new DatasetManifestStore(platform.Storage.CreateBlobClient(), "datasets");
        var inFolder = (await manifests.ReadAsync("in-folder", ct)).Entries;
        var inBlobs = (await manifests.ReadAsync("in-blobs", ct)).Entries;
        Assert.Equal(3, inFolder.Count);
        Assert.All(inBlobs, shard => Assert.StartsWith(containerUrl + "/datasets/in-blobs/", shard.Location));
        // Both jobs wrote the same shards, so the folder's tars stand for the blobs in --data.
        Assert.Equal(inFolder.Select(s => (s.ShardId, s.Checksum)).Order(), inBlobs.Select(s => (s.ShardId, s.Checksum)).Order());
        string[] TarsInOrderOf(List<ManifestShard> manifest) =>
            [.. manifest.Select(shard => inFolder.Single(s => s.ShardId == shard.ShardId).Location)];

        var fromFolder = await platform.RunAsync(Train("run-folder", "--dataset", "in-folder"));
        var fromTars = await platform.RunAsync(Train("run-tars", ["--data", .. TarsInOrderOf(inFolder)]));
        var fromBlobs = await platform.RunAsync(Train("run-blobs", "--dataset", "in-blobs"));
        var fromTarsInBlobOrder = inBlobs.Select(s => s.ShardId).SequenceEqual(inFolder.Select(s => s.ShardId))
            ? fromTars
            : await platform.RunAsync(Train("run-tars-blob-order", ["--data", .. TarsInOrderOf(inBlobs)]));

        foreach (var run in new[] { fromFolder, fromTars, fromBlobs, fromTarsInBlobOrder })
            Assert.True(run.ExitCode == 0 && run.Stdout.Contains("finished step=3", StringComparison.Ordinal), run.Stdout + run.Stderr);
        Assert.Contains($"dataset=in-folder shards=3 samples={inFolder.Sum(s => s.SampleCount)}", fromFolder.Stdout);
        Assert.Contains($"dataset=in-blobs shards=3 samples={inBlobs.Sum(s => s.SampleCount)}", fromBlobs.Stdout);
        Assert.DoesNotContain("dataset=", fromTars.Stdout);
        Assert.Equal(3, Losses(fromFolder.Stdout).Length);
        Assert.Equal(Losses(fromTars.Stdout), Losses(fromFolder.Stdout));
        Assert.Equal(Losses(fromTarsInBlobOrder.Stdout), Losses(fromBlobs.Stdout));
    }

    private Task<PlatformCommand.Result> RunAsync(params string[] args) => PlatformCommand.RunAsync(TimeSpan.FromMinutes(2),
        new Dictionary<string, string> { ["PLATFORM_Storage__ConnectionString"] = azurite.Connection.ConnectionString }, args);

    [Fact]
    public async Task Train_takes_exactly_one_of_data_and_dataset()
    {
        var neither = await RunAsync(Train("run"));
        var both = await RunAsync(Train("run", "--data", Path.Combine(root, "00000.tar"), "--dataset", "web"));

        foreach (var refused in new[] { neither, both })
        {
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("Give exactly one of --data (shard files) and --dataset (a dataset's name).", refused.StandardError);
        }
        Assert.False(Directory.Exists(Path.Combine(root, "run")));
    }

    [Fact]
    public async Task A_dataset_that_is_unknown_or_wrongly_named_is_refused_by_name()
    {
        var unknown = await RunAsync(Train("run", "--dataset", "no-such-dataset"));
        var invalid = await RunAsync(Train("run", "--dataset", "../escape"));

        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("Dataset 'no-such-dataset' does not exist or has no committed shards", unknown.StandardError);
        Assert.Equal(2, invalid.ExitCode);
        Assert.Contains("'../escape' is not a valid dataset name", invalid.StandardError);
    }
}
