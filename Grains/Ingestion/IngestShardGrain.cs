using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;

namespace Platform.Grains.Ingestion;

/// <summary>One shard step attempt, placed at random and limited per silo by <see cref="IngestWorkerSlots"/>, as <see cref="IngestUnitGrain"/>.</summary>
[RandomPlacement]
public sealed class IngestShardGrain(IngestWorkerSlots slots, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<IngestShardGrain> logger)
    : Grain, IIngestShardGrain
{
    private Task? running;

    public Task Start(ShardAssignment assignment)
    {
        var grains = GrainFactory;
        running ??= Task.Run(() => RunAsync(grains, assignment));
        return Task.CompletedTask;
    }

    private async Task RunAsync(IGrainFactory grains, ShardAssignment a)
    {
        var job = grains.GetGrain<IIngestJobGrain>(a.JobId);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
        var worker = silo.SiloAddress.ToString();
        var heartbeats = LeaseHeartbeats.RunAsync(() => job.ShardHeartbeat(a.Step, a.Shard, a.Attempt, worker), a.Settings.LeaseTimeout, stop, logger,
            $"shard {a.Shard} ({a.Step}) of job {a.JobId}");
        try
        {
            await slots.WaitAsync(stop.Token);
            ShardReport report;
            try
            {
                report = a.Step == ShardStep.Fetch ? await IngestShardPhase.FetchAsync(a, stop.Token) : await IngestShardPhase.WriteAsync(grains, a, stop.Token);
            }
            finally
            {
                slots.Release();
            }
            await job.ShardComplete(a.Step, a.Shard, a.Attempt, report);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            logger.LogInformation("Shard {Shard} ({Step}) attempt {Attempt} of job {Job} stopped: its lease is gone or its silo is stopping", a.Shard, a.Step, a.Attempt, a.JobId);
        }
        catch (Exception error)
        {
            logger.LogWarning(error, "Shard {Shard} ({Step}) attempt {Attempt} of job {Job} failed", a.Shard, a.Step, a.Attempt, a.JobId);
            try { await job.ShardFail(a.Step, a.Shard, a.Attempt, error.Message); }
            catch (Exception report) { logger.LogWarning(report, "Could not report the failure; the lease will expire instead"); }
        }
        finally
        {
            await stop.CancelAsync();
            await heartbeats;
        }
    }
}
