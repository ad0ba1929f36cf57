using Microsoft.Extensions.Logging.Abstractions;
using Platform.Grains.Ingestion;
using Platform.Grains.Work;

namespace Platform.Tests.Work;

/// <summary>The worker's side of a lease against a coordinator that is a plain work table (no cluster), on the real clock.</summary>
public sealed class LeasedWorkRunnerTests
{
    // Generous against a loaded machine: a heartbeat every second may come late by two before the lease is lost.
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(4.5);
    private static readonly WorkItemId Item = new(WorkKind.Unit, 0);

    private sealed record Done : WorkReport;

    /// <summary>A coordinator over one work table; it checks leases on every call, as a grain's timer would between them.</summary>
    private sealed class TableCoordinator : IWorkCoordinatorGrain
    {
        private readonly Lock gate = new();

        public WorkTable<WorkItem> Table { get; } = new([], new WorkTableOptions(Lease, Stall, MaxAttempts: 3), TimeProvider.System);

        public TableCoordinator() => Table.Add(new WorkItem());

        public int StartAttempt()
        {
            lock (gate) return Table.Dispatch().Single().Attempt;
        }

        /// <summary>Takes the item from its running attempt (as a lost lease would) and hands it out again.</summary>
        public void GiveAway(int attempt)
        {
            lock (gate)
            {
                Table.Fail(Item.Index, attempt, "presumed lost");
                Table.Dispatch();
            }
        }

        public Task<bool> Heartbeat(WorkItemId item, int attempt, WorkProgress progress)
        {
            lock (gate)
            {
                Table.ExpireLeases();
                return Task.FromResult(Table.Heartbeat(item.Index, attempt, progress.Worker, progress.Done));
            }
        }

        /// <summary>Completion calls that fail before one gets through, as during a storage outage the coordinator waits out.</summary>
        public int CompletionsToFail { get; set; }

        public Task<bool> Complete(WorkItemId item, int attempt, WorkReport report)
        {
            lock (gate)
            {
                if (CompletionsToFail > 0)
                {
                    CompletionsToFail--;
                    return Task.FromException<bool>(new TimeoutException("the coordinator's storage write timed out"));
                }
                Table.ExpireLeases();
                return Task.FromResult(Table.Complete(item.Index, attempt) is WorkOutcome.Accepted or WorkOutcome.Repeated);
            }
        }

        /// <summary>Failure reports that fail before one gets through.</summary>
        public int FailuresToFail { get; set; }

        public Task Fail(WorkItemId item, int attempt, string error)
        {
            lock (gate)
            {
                if (FailuresToFail > 0)
                {
                    FailuresToFail--;
                    return Task.FromException(new TimeoutException("the coordinator's storage write timed out"));
                }
                Table.Fail(item.Index, attempt, error);
            }
            return Task.CompletedTask;
        }
    }

    private sealed class OneSlot : IWorkSlots
    {
        private readonly SemaphoreSlim slot = new(1);

        public Task WaitAsync(CancellationToken cancellationToken) => slot.WaitAsync(cancellationToken);

        public void Release() => slot.Release();
    }

    private static Task<WorkRunOutcome> RunAsync(TableCoordinator coordinator, int attempt, IWorkSlots slots, Func<CancellationToken, Task<WorkReport>> work,
        Func<long>? measure) =>
        LeasedWorkRunner.RunAsync(new LeasedWork(coordinator, Item, attempt, Lease, "test work"), "worker-1", slots, work, measure,
            NullLogger.Instance, TestContext.Current.CancellationToken);

    [Fact]
    public async Task A_worker_that_heartbeats_but_never_progresses_is_stopped_and_its_item_is_handed_out_again()
    {
        var coordinator = new TableCoordinator();
        var attempt = coordinator.StartAttempt();
        var started = DateTime.UtcNow;
        // Alive (its heartbeats go on) but stuck: it waits forever and its measure never moves.
        var outcome = await RunAsync(coordinator, attempt, new OneSlot(), async stop =>
        {
            await Task.Delay(Timeout.Infinite, stop);
            return new Done();
        }, () => 1234).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(WorkRunOutcome.Stopped, outcome);
        Assert.True(DateTime.UtcNow - started >= Stall, "the lease must hold until the stall timeout");
        var item = coordinator.Table[0];
        Assert.Equal(WorkUnitState.Pending, item.State);
        Assert.Contains("no progress", item.LastError);
        Assert.Equal(1234, item.Progress);
    }

    [Fact]
    public async Task A_completion_report_that_fails_while_storage_is_out_is_retried_until_taken_and_costs_no_attempt()
    {
        var coordinator = new TableCoordinator { CompletionsToFail = 3 };
        var attempt = coordinator.StartAttempt();
        var outcome = await LeasedWorkRunner.RunAsync(new LeasedWork(coordinator, Item, attempt, Lease, "test work"), "worker-1", new OneSlot(),
                _ => Task.FromResult<WorkReport>(new Done()), measure: (Func<long>?)null, NullLogger.Instance, TestContext.Current.CancellationToken,
                reportRetry: new StorageRetryOptions { FirstDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50) })
            .WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(WorkRunOutcome.Accepted, outcome);
        Assert.Equal(0, coordinator.CompletionsToFail);
        Assert.Equal(WorkUnitState.Done, coordinator.Table[0].State);
        Assert.Equal(1, coordinator.Table[0].Attempt);
    }

    [Fact]
    public async Task A_failure_report_that_fails_while_storage_is_out_is_retried_until_taken_rather_than_left_to_the_lease()
    {
        var coordinator = new TableCoordinator { FailuresToFail = 3 };
        var attempt = coordinator.StartAttempt();
        // A lease far longer than the test: only the retried report can hand the item back.
        var outcome = await LeasedWorkRunner.RunAsync(new LeasedWork(coordinator, Item, attempt, TimeSpan.FromMinutes(5), "test work"), "worker-1", new OneSlot(),
                _ => Task.FromException<WorkReport>(new InvalidDataException("bad input")), measure: (Func<long>?)null, NullLogger.Instance,
                TestContext.Current.CancellationToken,
                reportRetry: new StorageRetryOptions { FirstDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50) })
            .WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(WorkRunOutcome.Failed, outcome);
        Assert.Equal(0, coordinator.FailuresToFail);
        Assert.Equal(WorkUnitState.Pending, coordinator.Table[0].State);
        Assert.Equal("bad input", coordinator.Table[0].LastError);
    }

    [Fact]
    public async Task A_completion_report_is_given_up_at_the_outage_ceiling()
    {
        var coordinator = new TableCoordinator { CompletionsToFail = int.MaxValue };
        var attempt = coordinator.StartAttempt();
        var outcome = await LeasedWorkRunner.RunAsync(new LeasedWork(coordinator, Item, attempt, TimeSpan.FromMinutes(5), "test work"), "worker-1", new OneSlot(),
                _ => Task.FromResult<WorkReport>(new Done()), measure: (Func<long>?)null, NullLogger.Instance, TestContext.Current.CancellationToken,
                reportRetry: new StorageRetryOptions { OutageRetryCeiling = TimeSpan.FromSeconds(1), FirstDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50) })
            .WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(WorkRunOutcome.ReportLost, outcome);
        Assert.Equal(WorkUnitState.Running, coordinator.Table[0].State);
    }

    [Fact]
    public async Task A_slow_worker_whose_progress_moves_keeps_its_lease_past_the_stall_timeout_and_completes()
    {
        var coordinator = new TableCoordinator();
        var attempt = coordinator.StartAttempt();
        long done = 0;
        var outcome = await RunAsync(coordinator, attempt, new OneSlot(), async stop =>
        {
            for (var i = 0; i < 8; i++)
            {
                await Task.Delay(Stall / 5, stop);
                Interlocked.Increment(ref done);
            }
            return new Done();
        }, () => Interlocked.Read(ref done)).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(WorkRunOutcome.Accepted, outcome);
        Assert.Equal(WorkUnitState.Done, coordinator.Table[0].State);
        Assert.Equal(1, coordinator.Table[0].Attempt);
    }

    [Fact]
    public async Task Waiting_for_a_work_slot_keeps_the_lease_without_progress_and_a_superseded_attempt_reports_refused()
    {
        var coordinator = new TableCoordinator();
        var attempt = coordinator.StartAttempt();
        var slots = new OneSlot();
        await slots.WaitAsync(TestContext.Current.CancellationToken);
        var run = RunAsync(coordinator, attempt, slots, _ => Task.FromResult<WorkReport>(new Done()), () => 0);
        // Twice the stall timeout in the queue: the measure is not read until the work holds a slot.
        await Task.Delay(Stall * 2, TestContext.Current.CancellationToken);
        Assert.Equal(WorkUnitState.Running, coordinator.Table[0].State);
        Assert.Null(coordinator.Table[0].Progress);
        // The coordinator gives the item away meanwhile (say its worker was presumed lost); the old attempt's report is refused.
        coordinator.GiveAway(attempt);
        slots.Release();
        var outcome = await run.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.True(outcome is WorkRunOutcome.Refused or WorkRunOutcome.Stopped, $"{outcome}");
        Assert.Equal(WorkUnitState.Running, coordinator.Table[0].State);
        Assert.Equal(2, coordinator.Table[0].Attempt);
    }
}
