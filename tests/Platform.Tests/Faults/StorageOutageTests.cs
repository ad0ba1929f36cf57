using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using Platform.Benchmarks;
using Platform.Datasets;
using Platform.Grains;
using Platform.Grains.Ingestion;
using Platform.Grains.Work;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Stages;
using Platform.Silo.Hosting;
using Platform.Tests.Infrastructure;
using Platform.Tests.Ingestion;

namespace Platform.Tests.Faults;

/// <summary>Grain-state writes that fail as during a storage outage cost no attempt of the work they carried.</summary>
public sealed class StorageOutageTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("storage-outage-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    // One attempt per item: any attempt an outage burnt would fail the job.
    private static readonly IngestJobSettings Settings = new()
    {
        SamplesPerShard = 40,
        LeaseTimeout = TimeSpan.FromSeconds(5),
        MaxAttempts = 1,
    };

    [Fact]
    public async Task An_ingest_job_whose_every_state_write_fails_twice_completes_with_one_attempt_per_item_and_the_single_process_dataset()
    {
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 12, pictures: 30, seed: 5);
        var single = Path.Combine(root, "single");
        var summary = await IngestRun.RunAsync(inputs, new LocalDatasetFolder(single), IngestJobOptions.Run(Settings) with { WorkDirectory = Path.Combine(root, "work") },
            cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(summary.ShardCount >= 2, $"{summary.ShardCount} shards: too few for a shard phase");

        FlakyGrainStorage<IngestJobState>? flaky = null;
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ServiceId = "outage-" + Guid.NewGuid().ToString("N")[..8];
        builder.Options.ClusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddPlatformStorage(azurite.Connection, PlatformTestCluster.ManifestContainer);
            silo.Services.AddKeyedSingleton<IGrainStorage>(PlatformStorage.GrainStateProvider, (sp, _) =>
                flaky = new FlakyGrainStorage<IngestJobState>(sp.GetRequiredService<DeepCopier>()) { FailuresPerWrite = 2 });
            silo.Services.Configure<StorageRetryOptions>(o => (o.FirstDelay, o.MaxDelay) = (TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(100)));
        });
        await using var cluster = builder.Build();
        await cluster.DeployAsync(TestContext.Current.CancellationToken);

        var dataset = "outage-" + Guid.NewGuid().ToString("N")[..8];
        var jobId = "job-" + Guid.NewGuid().ToString("N");
        var job = cluster.Client.GetGrain<IIngestJobGrain>(jobId);
        var output = Path.Combine(root, "distributed");
        await job.Submit(new IngestJobRequest(inputs, output, Settings, dataset));
        var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(3));

        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        Assert.NotNull(flaky);
        Assert.True(flaky.Failures >= 2 * 6, $"only {flaky.Failures} writes failed: the phases did not all meet the outage");
        Assert.All(status.Units, unit => Assert.Equal(1, unit.Attempt));
        Assert.Equal(1, status.FinishAttempts);
        Assert.Equal(0, status.Shards!.Restarts);
        Assert.Equal(1, status.Shards.DedupeAttempts);
        IngestShardPhaseTests.AssertSameShardFiles(single, Path.Combine(output, IngestJobLayout.DatasetFolder));
        FaultSuiteReport.Record("storage write failures", inputsTried: 1, faultsInjected: flaky.Failures, dataLost: 0);
    }
}
