using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;
using Platform.Grains.Work;

namespace Platform.Grains.Ingestion;

/// <summary>
/// One shard step attempt, placed at random and limited per silo by <see cref="IngestWorkerSlots"/>, as <see cref="IngestUnitGrain"/>.
/// A fetch's progress is the bytes in its attempt's folder; a write (one shard from fetched files) measures none.
/// </summary>
[RandomPlacement]
public sealed class IngestShardGrain(IngestWorkerSlots slots, IngestStorage storage, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<IngestShardGrain> logger)
    : LeasedWorkerGrain<ShardAssignment>(slots, silo, lifetime, logger), IIngestShardGrain
{
    protected override Task RunAsync(IGrainFactory grains, ShardAssignment a) =>
        RunLeasedAsync(
            new LeasedWork(grains.GetGrain<IIngestJobGrain>(a.JobId), new WorkItemId(a.Step == ShardStep.Fetch ? WorkKind.ShardFetch : WorkKind.ShardWrite, a.Shard),
                a.Attempt, a.Settings.LeaseTimeout, $"Shard {a.Shard} ({a.Step}) attempt {a.Attempt} of job {a.JobId}"),
            async stop => a.Step == ShardStep.Fetch
                ? await ClusterIngestStages.FetchShardAsync(grains, a, storage.Inputs, stop)
                : await ClusterIngestStages.WriteShardAsync(grains, await storage.OpenDatasetAsync(a.DatasetLocation, stop), a, stop),
            a.Step == ShardStep.Fetch ? WorkProgressMeasures.FolderBytes(a.Directory) : null);
}
