using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;

namespace Platform.Grains.Ingestion;

/// <summary>One shard step attempt, placed at random and limited per silo by <see cref="IngestWorkerSlots"/>, as <see cref="IngestUnitGrain"/>.</summary>
[RandomPlacement]
public sealed class IngestShardGrain(IngestWorkerSlots slots, IngestStorage storage, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<IngestShardGrain> logger)
    : Grain, IIngestShardGrain
{
    private Task? running;

    public Task Start(ShardAssignment assignment)
    {
        var grains = GrainFactory;
        running ??= Task.Run(() => RunAsync(grains, assignment));
        return Task.CompletedTask;
    }

    private Task RunAsync(IGrainFactory grains, ShardAssignment a)
    {
        var job = grains.GetGrain<IIngestJobGrain>(a.JobId);
        var worker = silo.SiloAddress.ToString();
        return new LeasedAttempt<ShardReport>(
            $"Shard {a.Shard} ({a.Step}) attempt {a.Attempt} of job {a.JobId}",
            a.Settings.LeaseTimeout,
            () => job.ShardHeartbeat(a.Step, a.Shard, a.Attempt, worker),
            async stop => a.Step == ShardStep.Fetch
                ? await ClusterIngestStages.FetchShardAsync(a, storage.Inputs, stop)
                : await ClusterIngestStages.WriteShardAsync(grains, await storage.OpenDatasetAsync(a.DatasetLocation, stop), a, stop),
            report => job.ShardComplete(a.Step, a.Shard, a.Attempt, report),
            error => job.ShardFail(a.Step, a.Shard, a.Attempt, error)).RunAsync(slots, lifetime.ApplicationStopping, logger);
    }
}
