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
public sealed class IngestUnitGrain(IngestWorkerSlots slots, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<IngestUnitGrain> logger) : Grain, IIngestUnitGrain
{
    private Task? running;

    public Task Start(UnitAssignment assignment)
    {
        // A repeated Start (a retried dispatch) joins the attempt already running here.
        var grains = GrainFactory;
        running ??= Task.Run(() => RunAsync(grains, assignment));
        return Task.CompletedTask;
    }

    private async Task RunAsync(IGrainFactory grains, UnitAssignment assignment)
    {
        var job = grains.GetGrain<IIngestJobGrain>(assignment.JobId);
        // A silo that stops takes its units with it (their leases then expire and they are redone elsewhere),
        // rather than leaving work running in a host that no longer answers for it.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
        var worker = silo.SiloAddress.ToString();
        var heartbeats = LeaseHeartbeats.RunAsync(() => job.Heartbeat(assignment.Unit, assignment.Attempt, worker), assignment.Settings.LeaseTimeout, stop,
            logger, $"unit {assignment.Unit} of job {assignment.JobId}");
        try
        {
            await slots.WaitAsync(stop.Token);
            UnitReport report;
            try
            {
                report = await IngestUnitExtraction.RunAsync(assignment.Input, assignment.Directory, IngestUnitExtraction.Options(assignment.Settings), stop.Token);
            }
            finally
            {
                slots.Release();
            }
            await job.Complete(assignment.Unit, assignment.Attempt, report);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            logger.LogInformation("Unit {Unit} attempt {Attempt} of job {Job} stopped: its lease is gone or its silo is stopping", assignment.Unit, assignment.Attempt, assignment.JobId);
        }
        catch (Exception error)
        {
            logger.LogWarning(error, "Unit {Unit} attempt {Attempt} of job {Job} failed", assignment.Unit, assignment.Attempt, assignment.JobId);
            try { await job.Fail(assignment.Unit, assignment.Attempt, error.Message); }
            catch (Exception report) { logger.LogWarning(report, "Could not report the failure; the lease will expire instead"); }
        }
        finally
        {
            await stop.CancelAsync();
            await heartbeats;
        }
    }
}
