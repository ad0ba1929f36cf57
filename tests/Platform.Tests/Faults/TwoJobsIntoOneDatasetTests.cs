using System.Security.Cryptography;
using Platform.Benchmarks;
using Platform.Grains.Datasets;
using Platform.Grains.Ingestion;
using Platform.Tests.Infrastructure;
using Platform.Tests.Ingestion;

namespace Platform.Tests.Faults;

/// <summary>
/// The suite's dataset part: two ingest jobs into one dataset, one after the other and both at once, into the same location
/// and into different ones. Both complete, every shard id is committed once, and every committed tar still has the contents
/// its manifest entry names (its sha256 equals the checksum), so neither job overwrote the other's shards.
/// </summary>
public sealed class TwoJobsIntoOneDatasetTests(AzuriteFixture azurite) : IDisposable
{
    private const string Category = "two jobs into one dataset";
    private readonly string root = Directory.CreateTempSubdirectory("fault-two-jobs-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static readonly IngestJobSettings Settings = new() { SamplesPerShard = 8, LeaseTimeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task Two_jobs_into_one_dataset_in_sequence_and_at_once_with_the_same_and_other_locations_commit_distinct_intact_shards()
    {
        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 2);
        var seed = 40;
        foreach (var concurrent in new[] { false, true })
        foreach (var sameLocation in new[] { true, false })
        {
            var scenario = $"{(concurrent ? "at once" : "in sequence")}, {(sameLocation ? "same location" : "other locations")}";
            var dataset = "two-jobs-" + Guid.NewGuid().ToString("N")[..8];
            var folder = Path.Combine(root, dataset);
            var shared = Path.Combine(folder, "shared-location");
            Task<IngestJobStatus> RunAsync(string name)
            {
                var inputs = ImageDumpGenerator.Write(Path.Combine(folder, "in-" + name), files: 1, pagesPerFile: 10, pictures: 24, seed: seed++);
                var job = cluster.Client.GetGrain<IIngestJobGrain>($"{dataset}-{name}");
                return SubmitAndWaitAsync(job, new IngestJobRequest(inputs, Path.Combine(folder, "out-" + name), Settings, dataset, sameLocation ? shared : null));
            }
            var statuses = concurrent
                ? await Task.WhenAll(RunAsync("a"), RunAsync("b"))
                : [await RunAsync("a"), await RunAsync("b")];

            foreach (var status in statuses)
            {
                Assert.True(status.Phase == IngestJobPhase.Completed, $"{scenario}: {status.JobId} {status.Phase}: {status.Error}");
                Assert.True(status.Shards!.ShardsCommitted > 0, $"{scenario}: {status.JobId} committed no shard");
            }
            var shards = await cluster.Client.GetGrain<IDatasetGrain>(dataset).ListShards(0, 10_000);
            var damaged = shards.Count(shard => !File.Exists(shard.Location)
                || !string.Equals(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(shard.Location))), shard.Checksum, StringComparison.OrdinalIgnoreCase));
            FaultSuiteReport.Record(Category, inputsTried: 2, faultsInjected: 1, dataLost: damaged);
            Assert.Equal(statuses.Sum(s => s.Shards!.ShardsCommitted), shards.Count);
            Assert.Equal(shards.Count, shards.Select(s => s.ShardId).Distinct().Count());
            Assert.Equal(shards.Count, shards.Select(s => s.Location).Distinct().Count());
            Assert.Equal(statuses.Sum(s => s.Shards!.SamplesStored), shards.Sum(s => s.SampleCount));
            Assert.True(damaged == 0, $"{scenario}: {damaged} committed tars no longer have the contents their manifest names");
        }
    }

    private static async Task<IngestJobStatus> SubmitAndWaitAsync(IIngestJobGrain job, IngestJobRequest request)
    {
        await job.Submit(request);
        return await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(3));
    }
}
