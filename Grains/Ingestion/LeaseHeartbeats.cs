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
