using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;
using Platform.Grains.Work;

namespace Platform.Grains.Ingestion;

/// <summary>
/// One unit attempt. Not a [StatelessWorker]: those always activate on the caller's silo, which would
/// keep a job's units on the job grain's silo; one activation per attempt, placed at random, spreads
/// the units over the cluster (placement by activation count sends a burst of units to one silo, since
/// its load statistics lag). The per-silo limit comes from <see cref="IngestWorkerSlots"/>. Its progress is
/// the bytes the attempt has written to its folder (every page read adds to its span log).
/// </summary>
[RandomPlacement]
public sealed class IngestUnitGrain(IngestWorkerSlots slots, IngestStorage storage, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<IngestUnitGrain> logger) : LeasedWorkerGrain<UnitAssignment>(slots, silo, lifetime, logger), IIngestUnitGrain
{
    protected override Task RunAsync(IGrainFactory grains, UnitAssignment a) =>
        RunLeasedAsync(
            new LeasedWork(grains.GetGrain<IIngestJobGrain>(a.JobId), new WorkItemId(WorkKind.Unit, a.Unit), a.Attempt, a.Settings.LeaseTimeout,
                $"Unit {a.Unit} attempt {a.Attempt} of job {a.JobId}"),
            async stop => await ClusterIngestStages.ExtractUnitAsync(a, storage.Inputs, stop),
            WorkProgressMeasures.FolderBytes(a.Directory));
}
