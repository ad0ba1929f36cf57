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
        var heartbeats = HeartbeatAsync(job, assignment, stop);
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

    /// <summary>
    /// Renews the lease three times per timeout. Stops the work when the job says the attempt is
    /// superseded, or when the job has been unreachable for a whole lease (it has given the unit away).
    /// </summary>
    private async Task HeartbeatAsync(IIngestJobGrain job, UnitAssignment assignment, CancellationTokenSource stop)
    {
        var interval = assignment.Settings.LeaseTimeout / 3;
        var lastAnswer = DateTimeOffset.UtcNow;
        var worker = silo.SiloAddress.ToString();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!await job.Heartbeat(assignment.Unit, assignment.Attempt, worker))
                {
                    await stop.CancelAsync();
                    return;
                }
                lastAnswer = DateTimeOffset.UtcNow;
            }
            catch (Exception error) when (!stop.IsCancellationRequested)
            {
                logger.LogDebug(error, "Heartbeat of unit {Unit} failed", assignment.Unit);
                if (DateTimeOffset.UtcNow - lastAnswer > assignment.Settings.LeaseTimeout)
                {
                    await stop.CancelAsync();
                    return;
                }
            }
            try { await Task.Delay(interval, stop.Token); }
            catch (OperationCanceledException) { return; }
        }
    }
}
