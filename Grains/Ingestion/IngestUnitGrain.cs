using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;

namespace Platform.Grains.Ingestion;

/// <summary>
/// One unit attempt. Not a [StatelessWorker]: those always activate on the caller's silo, which would
/// keep a job's units on the job grain's silo; one activation per attempt, placed at random, spreads
/// the units over the cluster (placement by activation count sends a burst of units to one silo, since
/// its load statistics lag). The per-silo limit comes from <see cref="IngestWorkerSlots"/>.
/// </summary>
[RandomPlacement]
public sealed class IngestUnitGrain(IngestWorkerSlots slots, IngestStorage storage, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<IngestUnitGrain> logger) : Grain, IIngestUnitGrain
{
    private Task? running;

    public Task Start(UnitAssignment assignment)
    {
        // A repeated Start (a retried dispatch) joins the attempt already running here.
        var grains = GrainFactory;
        running ??= Task.Run(() => RunAsync(grains, assignment));
        return Task.CompletedTask;
    }

    private Task RunAsync(IGrainFactory grains, UnitAssignment a)
    {
        var job = grains.GetGrain<IIngestJobGrain>(a.JobId);
        var worker = silo.SiloAddress.ToString();
        return new LeasedAttempt<UnitReport>(
            $"Unit {a.Unit} attempt {a.Attempt} of job {a.JobId}",
            a.Settings.LeaseTimeout,
            () => job.Heartbeat(a.Unit, a.Attempt, worker),
            stop => ClusterIngestStages.ExtractUnitAsync(a, storage.Inputs, stop),
            report => job.Complete(a.Unit, a.Attempt, report),
            error => job.Fail(a.Unit, a.Attempt, error)).RunAsync(slots, lifetime.ApplicationStopping, logger);
    }
}
