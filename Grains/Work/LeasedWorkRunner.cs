using Microsoft.Extensions.Logging;

namespace Platform.Grains.Work;

/// <summary>A silo's limit on work running at once (ingest units and shard steps, crawl slices, coordinator steps share it).</summary>
public interface IWorkSlots
{
    Task WaitAsync(CancellationToken cancellationToken);

    void Release();
}

/// <summary>How one attempt under a lease ended, from the worker's side.</summary>
public enum WorkRunOutcome
{
    /// <summary>The coordinator took the attempt's report.</summary>
    Accepted,
    /// <summary>The coordinator refused the report: the attempt had been superseded. Its outputs must not be used.</summary>
    Refused,
    /// <summary>The work failed and the failure was reported (or could not be, and the lease expires instead).</summary>
    Failed,
    /// <summary>The work was stopped before it finished: its lease is gone, the coordinator went silent for a lease, or the silo stops.</summary>
    Stopped,
    /// <summary>The work finished but the completion call failed: the coordinator may have taken it before its answer was lost.</summary>
    ReportLost,
}

/// <param name="Coordinator">The grain that owns the item's work table.</param>
/// <param name="What">How logs name the attempt.</param>
public sealed record LeasedWork(IWorkCoordinatorGrain Coordinator, WorkItemId Item, int Attempt, TimeSpan LeaseTimeout, string What);

/// <summary>
/// The worker's whole attempt under a lease, for every kind of leased work: heartbeats (three per lease, carrying the
/// progress <c>measure</c> reads once the work holds a slot) while it waits for a slot and works, stops the work when the
/// coordinator says the attempt is superseded or has been unreachable for a whole lease (it has given the work away by
/// then), and reports the outcome. A silo that stops takes its attempts with it (their leases then expire and they are
/// redone elsewhere), rather than leaving work running in a host that no longer answers for it.
/// </summary>
public static class LeasedWorkRunner
{
    public static Task<WorkRunOutcome> RunAsync(LeasedWork work, string worker, IWorkSlots slots, Func<CancellationToken, Task<WorkReport>> run,
        Func<long>? measure, ILogger logger, CancellationToken stopping, TimeProvider? clock = null, StorageRetryOptions? reportRetry = null) =>
        RunAsync(work, worker, slots, run, measure is null ? null : new Func<long?>(() => measure()), logger, stopping, clock, reportRetry);

    /// <param name="measure">
    /// The attempt's progress, or null while it has none to measure yet (a trainer before its first step), so that time
    /// spent getting ready does not count as a stall.
    /// </param>
    /// <param name="reportRetry">How long a completion report is retried while the coordinator cannot take it (default 90 s).</param>
    public static async Task<WorkRunOutcome> RunAsync(LeasedWork work, string worker, IWorkSlots slots, Func<CancellationToken, Task<WorkReport>> run,
        Func<long?>? measure, ILogger logger, CancellationToken stopping, TimeProvider? clock = null, StorageRetryOptions? reportRetry = null)
    {
        clock ??= TimeProvider.System;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var working = false;
        long? Progress() => working && measure is not null ? measure() : null;
        var heartbeats = HeartbeatAsync(work, () => new WorkProgress(worker, Progress()), stop, logger, clock);
        try
        {
            await slots.WaitAsync(stop.Token);
            WorkReport report;
            try
            {
                working = true;
                report = await run(stop.Token);
            }
            finally
            {
                working = false;
                slots.Release();
            }
            try
            {
                // Retried through a storage outage (the coordinator may be waiting out a write, or reloading after giving one up):
                // a report repeated after it was taken is confirmed, so retrying is safe, and finished work is not redone.
                var reports = StorageRetry.Pipeline(reportRetry ?? new StorageRetryOptions(), logger, $"Reporting the completion of {work.What}");
                return await reports.ExecuteAsync(async token => await work.Coordinator.Complete(work.Item, work.Attempt, report).WaitAsync(token), stopping)
                    ? WorkRunOutcome.Accepted : WorkRunOutcome.Refused;
            }
            catch (Exception error)
            {
                logger.LogWarning(error, "Could not report the completion of {Work}; its lease expires unless the report arrived", work.What);
                return WorkRunOutcome.ReportLost;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            logger.LogInformation("{Work} stopped: its lease is gone or its silo is stopping", work.What);
            return WorkRunOutcome.Stopped;
        }
        catch (Exception error)
        {
            logger.LogWarning(error, "{Work} failed", work.What);
            try
            {
                // Retried as a completion is: a failure reported twice is refused the second time (the attempt is no longer current),
                // and one that gets through is retried at once rather than after a whole lease.
                var reports = StorageRetry.Pipeline(reportRetry ?? new StorageRetryOptions(), logger, $"Reporting the failure of {work.What}");
                await reports.ExecuteAsync(async token => await work.Coordinator.Fail(work.Item, work.Attempt, error.Message).WaitAsync(token), stopping);
            }
            catch (Exception report) { logger.LogWarning(report, "Could not report the failure of {Work}; the lease will expire instead", work.What); }
            return WorkRunOutcome.Failed;
        }
        finally
        {
            await stop.CancelAsync();
            await heartbeats;
        }
    }

    private static async Task HeartbeatAsync(LeasedWork work, Func<WorkProgress> progress, CancellationTokenSource stop, ILogger logger, TimeProvider clock)
    {
        var interval = work.LeaseTimeout / 3;
        var lastAnswer = clock.GetUtcNow();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!await work.Coordinator.Heartbeat(work.Item, work.Attempt, progress()))
                {
                    await stop.CancelAsync();
                    return;
                }
                lastAnswer = clock.GetUtcNow();
            }
            catch (Exception error) when (!stop.IsCancellationRequested)
            {
                logger.LogDebug(error, "Heartbeat of {Work} failed", work.What);
                if (clock.GetUtcNow() - lastAnswer > work.LeaseTimeout)
                {
                    await stop.CancelAsync();
                    return;
                }
            }
            try { await Task.Delay(interval, clock, stop.Token); }
            catch (OperationCanceledException) { return; }
        }
    }
}

/// <summary>Progress measures for workers whose library call reports none itself.</summary>
public static class WorkProgressMeasures
{
    /// <summary>Bytes written so far under <paramref name="directory"/> (0 before it exists): grows while a worker writes its outputs there.</summary>
    public static Func<long> FolderBytes(string directory) => () =>
    {
        try
        {
            return new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(file => file.Length);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    };
}
