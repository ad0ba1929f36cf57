using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Azure.Storage.Blobs.Models;
using Platform.Benchmarks;
using Platform.Datasets;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Runs;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;
using Platform.Tests.Ingestion;

namespace Platform.Tests.Faults;

/// <summary>
/// The suite's crash part: a real `platform up` ingesting a generated WARC is SIGKILLed while it writes shards (once alone, its
/// Azurite surviving; once together with its Azurite, as a machine crash does), then started again on the same state folder.
/// The job completes, no shard id names two contents, every committed tar's sha256 equals its manifest checksum, and the
/// dataset's shard files are byte for byte those an uninterrupted `ingest run` writes. About 90 s per case: two starts of
/// `platform up` and a lease (5 s) to wait out.
/// </summary>
public sealed class KilledMidShardWriteTests : IDisposable
{
    private const string Category = "platform up killed mid shard-write (SIGKILL)";

    // Small shards, so the shard phase has many writes and the kill lands among them.
    private static readonly IngestJobSettings Settings = new() { SamplesPerShard = 3, LeaseTimeout = TimeSpan.FromSeconds(5) };

    private readonly string root = Directory.CreateTempSubdirectory("fault-killed-shard-write-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Platform_up_killed_mid_shard_write_completes_the_job_after_a_restart_with_the_shards_ingest_run_writes(bool withItsAzurite)
    {
        var ct = TestContext.Current.CancellationToken;
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 16, pictures: 30, seed: withItsAzurite ? 71 : 72);
        var single = Path.Combine(root, "single");
        var summary = await IngestRun.RunAsync(inputs, new LocalDatasetFolder(single), IngestJobOptions.Run(Settings) with { WorkDirectory = Path.Combine(root, "work") },
            cancellationToken: ct);
        Assert.True(summary.ShardCount >= 6, $"{summary.ShardCount} shards: too few for a kill among the shard writes");

        var data = Directory.CreateDirectory(Path.Combine(root, "state")).FullName;
        var storage = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var gatewayPort = AzuriteEmulator.FreeTcpPort();
        var output = Path.Combine(root, "out");
        var datasetFolder = Path.Combine(output, IngestJobRequest.DefaultDatasetFolder);
        var dataset = "killed-" + Guid.NewGuid().ToString("N")[..8];
        var jobId = "job-" + Guid.NewGuid().ToString("N")[..12];
        int? survivingAzurite = null;
        try
        {
            int tarsAtKill;
            await using (var first = PlatformProcess.StartUp(storage: storage, dataDirectory: data, gatewayPort: gatewayPort))
            {
                using var http = new HttpClient { BaseAddress = first.BaseAddress };
                await first.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));
                var azurite = first.StartedAzuritePid() ?? throw new InvalidOperationException("platform up started no Azurite of its own:\n" + first.Output);
                using (var posted = await http.PostAsJsonAsync("/api/ingest/jobs", new
                {
                    inputs,
                    output,
                    dataset,
                    job = jobId,
                    settings = new { samplesPerShard = Settings.SamplesPerShard, leaseTimeout = Settings.LeaseTimeout.ToString("c") },
                }, ct))
                    Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync(ct));

                // The first published tar: the shard phase has begun, and most of its writes are still to come.
                var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
                while (PublishedTars(datasetFolder).Count == 0)
                {
                    Assert.True(DateTime.UtcNow < deadline, "no shard was written in three minutes:\n" + first.Output);
                    Assert.False(first.Process.HasExited, "platform up exited:\n" + first.Output);
                    await Task.Delay(10, ct);
                }
                first.Process.Kill(entireProcessTree: withItsAzurite);
                await first.Process.WaitForExitAsync(ct);
                tarsAtKill = PublishedTars(datasetFolder).Count;
                if (withItsAzurite)
                {
                    var gone = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                    while (PlatformProcess.IsAlive(azurite) && DateTime.UtcNow < gone) await Task.Delay(50, ct);
                    Assert.False(PlatformProcess.IsAlive(azurite), "Azurite survived the kill");
                }
                else
                {
                    Assert.True(PlatformProcess.IsAlive(azurite), "Azurite died with platform up, which was killed alone");
                    survivingAzurite = azurite;
                }
            }
            Assert.True(tarsAtKill < summary.ShardCount, $"all {summary.ShardCount} shards were written before the kill: it came too late to test anything");

            await using var second = PlatformProcess.StartUp(storage: storage, dataDirectory: data, gatewayPort: gatewayPort);
            using (var http = new HttpClient { BaseAddress = second.BaseAddress })
            {
                await second.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));
                var (phase, status) = await WaitForEndAsync(http, jobId, TimeSpan.FromMinutes(3), ct);
                Assert.True(phase == "Completed", $"job {jobId}: {phase}, {status}\n{second.Output}");
            }

            var lines = await ManifestLinesAsync(storage, dataset, ct);
            var committed = lines.GroupBy(line => line.ShardId).ToList();
            var twoContents = committed.Count(shard => shard.Select(line => line.Checksum.ToLowerInvariant()).Distinct().Count() > 1);
            var damaged = committed.Select(shard => shard.First()).Count(shard => !File.Exists(shard.Location)
                || !string.Equals(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(shard.Location))), shard.Checksum, StringComparison.OrdinalIgnoreCase));
            FaultSuiteReport.Record(Category, inputsTried: 1, faultsInjected: 1, dataLost: twoContents + damaged + Math.Max(0, summary.ShardCount - committed.Count));
            Assert.True(twoContents == 0, $"{twoContents} shard ids are committed with two contents");
            Assert.True(damaged == 0, $"{damaged} committed tars do not have the sha256 of their manifest line");
            Assert.Equal(summary.ShardCount, committed.Count);
            Assert.Equal(committed.Count, committed.Select(shard => shard.First().Location).Distinct().Count());
            IngestShardPhaseTests.AssertSameShardFiles(single, datasetFolder);
        }
        finally
        {
            // Killed alone, platform up left its Azurite running; the restarted one used it and does not own it.
            if (survivingAzurite is { } pid && PlatformProcess.IsAlive(pid))
            {
                using var azurite = System.Diagnostics.Process.GetProcessById(pid);
                azurite.Kill();
                await azurite.WaitForExitAsync(CancellationToken.None);
            }
        }
    }

    private static List<string> PublishedTars(string folder) =>
        Directory.Exists(folder) ? [.. Directory.EnumerateFiles(folder, "*.tar").Where(path => !Path.GetFileName(path).StartsWith('.'))] : [];

    private static async Task<(string Phase, string Status)> WaitForEndAsync(HttpClient http, string jobId, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            using var response = await http.GetAsync($"/api/ingest/jobs/{jobId}", ct);
            last = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode)
            {
                using var status = JsonDocument.Parse(last);
                var phase = status.RootElement.GetProperty("phase").GetString()!;
                if (phase is "Completed" or "Failed") return (phase, last);
            }
            await Task.Delay(500, ct);
        }
        return ($"still running after {timeout}", last);
    }

    /// <summary>Every line of the dataset's manifest as stored, repeats included: a reader keeping the first per id would hide a second content.</summary>
    private static async Task<List<ManifestShard>> ManifestLinesAsync(StorageConnection storage, string dataset, CancellationToken ct)
    {
        var container = storage.CreateBlobClient().GetBlobContainerClient(new Silo.Hosting.StorageSettings().ManifestContainer);
        var lines = new List<ManifestShard>();
        await foreach (var blob in container.GetBlobsAsync(new GetBlobsOptions { Prefix = DatasetManifestStore.SegmentPrefix(dataset) }, ct))
        {
            var content = (await container.GetBlobClient(blob.Name).DownloadContentAsync(ct)).Value.Content.ToString();
            lines.AddRange(content.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => JsonSerializer.Deserialize<ManifestShard>(line, new JsonSerializerOptions(JsonSerializerDefaults.Web))!));
        }
        return lines;
    }
}
