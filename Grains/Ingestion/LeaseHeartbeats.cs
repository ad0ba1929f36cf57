using Microsoft.Extensions.Logging;

namespace Platform.Grains.Ingestion;

/// <summary>
/// A worker's side of a lease: renews it three times per timeout, and stops the work when the job says the
/// attempt is superseded, or when the job has been unreachable for a whole lease (it has given the work away).
/// </summary>
internal static class LeaseHeartbeats
{
    public static async Task RunAsync(Func<Task<bool>> heartbeat, TimeSpan leaseTimeout, CancellationTokenSource stop, ILogger logger, string what)
    {
        var interval = leaseTimeout / 3;
        var lastAnswer = DateTimeOffset.UtcNow;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!await heartbeat())
                {
                    await stop.CancelAsync();
                    return;
                }
                lastAnswer = DateTimeOffset.UtcNow;
            }
            catch (Exception error) when (!stop.IsCancellationRequested)
            {
                logger.LogDebug(error, "Heartbeat of {Work} failed", what);
                if (DateTimeOffset.UtcNow - lastAnswer > leaseTimeout)
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

/// <summary>
/// The worker's whole attempt under a lease: heartbeats while it waits for a slot and works, then reports the
/// outcome to the job. A silo that stops takes its attempts with it (their leases then expire and they are redone
/// elsewhere), rather than leaving work running in a host that no longer answers for it.
/// </summary>
internal sealed record LeasedAttempt<TReport>(
    string What,
    TimeSpan LeaseTimeout,
    Func<Task<bool>> Heartbeat,
    Func<CancellationToken, Task<TReport>> Work,
    Func<TReport, Task> Complete,
    Func<string, Task> Fail)
{
    public async Task RunAsync(IngestWorkerSlots slots, CancellationToken stopping, ILogger logger)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var heartbeats = LeaseHeartbeats.RunAsync(Heartbeat, LeaseTimeout, stop, logger, What);
        try
        {
            await slots.WaitAsync(stop.Token);
            TReport report;
            try
            {
                report = await Work(stop.Token);
            }
            finally
            {
                slots.Release();
            }
            await Complete(report);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            logger.LogInformation("{Work} stopped: its lease is gone or its silo is stopping", What);
        }
        catch (Exception error)
        {
            logger.LogWarning(error, "{Work} failed", What);
            try { await Fail(error.Message); }
            catch (Exception report) { logger.LogWarning(report, "Could not report the failure of {Work}; the lease will expire instead", What); }
        }
        finally
        {
            await stop.CancelAsync();
            await heartbeats;
        }
    }
}
