using CsCheck;
using Platform.Grains.Ingestion;
using Platform.Grains.Work;

namespace Platform.Tests.Work;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    private DateTimeOffset now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => now;

    public void Advance(TimeSpan by) => now += by;
}

public sealed class WorkTableTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(5);

    private static (WorkTable<WorkItem> Table, ManualClock Clock) NewTable(int items, int maxAttempts = 3, TimeSpan? stall = null)
    {
        var clock = new ManualClock();
        var table = new WorkTable<WorkItem>([], new WorkTableOptions(Lease, stall ?? Stall, maxAttempts), clock);
        for (var i = 0; i < items; i++) table.Add(new WorkItem());
        return (table, clock);
    }

    /// <summary>One step of a coordinator's life: a dispatch, a worker's report (of the current attempt or an older one), or time passing.</summary>
    private sealed record Step(int Kind, int Item, int AttemptsBack, long Progress, int Millis);

    private static readonly Gen<Step> Steps = Gen.Select(Gen.Int[0, 4], Gen.Int[0, 5], Gen.Int[0, 2], Gen.Long[0, 4], Gen.Int[0, 3000],
        (kind, item, back, progress, millis) => new Step(kind, item, back, progress, millis));

    [Fact]
    public void Whatever_workers_report_and_however_time_passes_no_item_is_done_twice_superseded_reports_are_refused_and_attempts_stay_within_the_limit()
    {
        Gen.Select(Gen.Int[1, 6], Gen.Int[1, 4], Steps.Array[0, 80]).Sample((count, maxAttempts, steps) =>
        {
            var (table, clock) = NewTable(count, maxAttempts);
            var accepted = new int[count];
            foreach (var step in steps)
            {
                var index = step.Item % count;
                var item = table[index];
                var attempt = item.Attempt - step.AttemptsBack;
                var before = (item.State, item.Attempt);
                switch (step.Kind)
                {
                    case 0:
                        Assert.All(table.Dispatch(step.Item + 1), started => Assert.Equal(WorkUnitState.Running, started.State));
                        break;
                    case 1:
                        var renewed = table.Heartbeat(index, attempt, "worker", step.Progress);
                        Assert.Equal(before.State == WorkUnitState.Running && step.AttemptsBack == 0, renewed);
                        break;
                    case 2:
                        var outcome = table.Complete(index, attempt);
                        if (outcome == WorkOutcome.Accepted) accepted[index]++;
                        // A superseded attempt's report is refused and changes nothing.
                        if (step.AttemptsBack > 0)
                        {
                            Assert.Equal(WorkOutcome.Refused, outcome);
                            Assert.Equal(before, (item.State, item.Attempt));
                        }
                        break;
                    case 3:
                        var failed = table.Fail(index, attempt, "boom");
                        if (step.AttemptsBack > 0 || before.State != WorkUnitState.Running)
                        {
                            Assert.Equal(WorkOutcome.Refused, failed);
                            Assert.Equal(before, (item.State, item.Attempt));
                        }
                        break;
                    default:
                        clock.Advance(TimeSpan.FromMilliseconds(step.Millis));
                        Assert.All(table.ExpireLeases(), expired => Assert.Equal(
                            expired.Outcome == WorkOutcome.GaveUp ? WorkUnitState.Failed : WorkUnitState.Pending, expired.Item.State));
                        break;
                }
                Assert.All(table.Items, i => Assert.InRange(i.Attempt, 0, maxAttempts));
                Assert.All(accepted, n => Assert.InRange(n, 0, 1));
                Assert.All(table.Items, i => Assert.Equal(i.State == WorkUnitState.Done ? 1 : 0, accepted[i.Index]));
            }

            // However it went so far, a coordinator that keeps dispatching ends with every item done or failed.
            for (var round = 0; round <= maxAttempts && !table.AllFinished; round++)
            {
                // Workers still out from the steps above are never heard from again.
                clock.Advance(Lease);
                table.ExpireLeases();
                foreach (var started in table.Dispatch())
                {
                    if ((started.Index + round) % 2 == 0) table.Fail(started.Index, started.Attempt, "boom");
                    else if (table.Complete(started.Index, started.Attempt) == WorkOutcome.Accepted) accepted[started.Index]++;
                }
            }
            Assert.True(table.AllFinished, string.Join(", ", table.Items.Select(i => $"{i.Index}:{i.State}#{i.Attempt}")));
            Assert.All(table.Items, i => Assert.InRange(i.Attempt, 0, maxAttempts));
            Assert.All(accepted, n => Assert.InRange(n, 0, 1));
        });
    }

    [Fact]
    public void Every_item_whose_lease_expired_is_dispatched_again_under_a_new_attempt_until_its_attempts_run_out()
    {
        Gen.Select(Gen.Int[1, 6], Gen.Int[1, 4]).Sample((count, maxAttempts) =>
        {
            var (table, clock) = NewTable(count, maxAttempts);
            for (var attempt = 1; attempt <= maxAttempts; attempt++)
            {
                var started = table.Dispatch();
                Assert.Equal(count, started.Count);
                Assert.All(started, item => Assert.Equal(attempt, item.Attempt));
                clock.Advance(Lease);
                var expired = table.ExpireLeases();
                Assert.Equal(count, expired.Count);
                Assert.All(expired, e => Assert.Equal(attempt == maxAttempts ? WorkOutcome.GaveUp : WorkOutcome.Retried, e.Outcome));
                // The lost attempt's late report is refused.
                Assert.All(started, item => Assert.Equal(WorkOutcome.Refused, table.Complete(item.Index, attempt)));
            }
            Assert.Empty(table.Dispatch());
            Assert.Equal(count, table.Count(WorkUnitState.Failed));
        });
    }

    [Fact]
    public void A_completion_repeated_by_the_same_attempt_is_confirmed_and_counted_once()
    {
        var (table, _) = NewTable(1);
        var item = Assert.Single(table.Dispatch());
        Assert.Equal(WorkOutcome.Accepted, table.Complete(0, item.Attempt));
        Assert.Equal(WorkOutcome.Repeated, table.Complete(0, item.Attempt));
        Assert.Equal(WorkOutcome.Refused, table.Complete(0, item.Attempt + 1));
        Assert.Equal(1, table.Count(WorkUnitState.Done));
    }

    [Fact]
    public void A_worker_that_heartbeats_but_never_progresses_loses_its_lease_after_the_stall_timeout()
    {
        var (table, clock) = NewTable(1);
        var item = Assert.Single(table.Dispatch());
        var heard = TimeSpan.Zero;
        while (heard < Stall)
        {
            Assert.True(table.Heartbeat(0, item.Attempt, "stuck", 42));
            Assert.Empty(table.ExpireLeases());
            clock.Advance(Lease / 3);
            heard += Lease / 3;
        }
        Assert.True(table.Heartbeat(0, item.Attempt, "stuck", 42));
        var expired = Assert.Single(table.ExpireLeases());
        Assert.Equal(WorkOutcome.Retried, expired.Outcome);
        Assert.Contains("no progress", item.LastError);
        Assert.False(table.Heartbeat(0, 1, "stuck", 42), "the stuck attempt must learn that it was superseded");
        Assert.Equal(2, Assert.Single(table.Dispatch()).Attempt);
    }

    [Fact]
    public void A_slow_worker_whose_progress_keeps_advancing_keeps_its_lease_far_beyond_the_stall_timeout()
    {
        var (table, clock) = NewTable(1);
        var item = Assert.Single(table.Dispatch());
        for (var beat = 0; beat < 100; beat++)
        {
            // One byte more every other heartbeat: slow, but moving.
            Assert.True(table.Heartbeat(0, item.Attempt, "slow", beat / 2));
            Assert.Empty(table.ExpireLeases());
            clock.Advance(Lease / 3);
        }
        Assert.Equal(WorkUnitState.Running, item.State);
        Assert.Equal(49, item.Progress);
    }

    [Fact]
    public void Waiting_for_a_work_slot_or_unmeasured_work_never_counts_as_a_stall_but_silence_loses_the_lease()
    {
        var (table, clock) = NewTable(1);
        var item = Assert.Single(table.Dispatch());
        for (var beat = 0; beat < 30; beat++)
        {
            Assert.True(table.Heartbeat(0, item.Attempt, "waiting", null));
            Assert.Empty(table.ExpireLeases());
            clock.Advance(Lease / 3);
        }
        clock.Advance(Lease);
        Assert.Contains("lease expired on waiting", Assert.Single(table.ExpireLeases()).Item.LastError);
    }

    [Fact]
    public void A_zero_stall_timeout_turns_stall_detection_off()
    {
        var (table, clock) = NewTable(1, stall: TimeSpan.Zero);
        var item = Assert.Single(table.Dispatch());
        for (var beat = 0; beat < 30; beat++)
        {
            Assert.True(table.Heartbeat(0, item.Attempt, "stuck", 7));
            Assert.Empty(table.ExpireLeases());
            clock.Advance(Lease / 3);
        }
    }

    [Fact]
    public void A_reactivated_coordinator_gives_running_attempts_a_fresh_lease_so_live_workers_check_in_first()
    {
        var clock = new ManualClock();
        var options = new WorkTableOptions(Lease, Stall, 3);
        List<WorkItem> rows = [];
        var before = new WorkTable<WorkItem>(rows, options, clock);
        before.Add(new WorkItem());
        before.Dispatch();
        clock.Advance(Lease * 10);
        // The rows come back from storage; the leases, kept in memory, do not.
        var after = new WorkTable<WorkItem>(rows, options, clock);
        after.ResumeLeases();
        Assert.Empty(after.ExpireLeases());
        Assert.True(after.Heartbeat(0, 1, "alive", null));
        clock.Advance(Lease);
        Assert.Single(after.ExpireLeases());
    }

    [Fact]
    public void Starting_a_chosen_item_runs_only_that_one_and_only_while_it_is_pending()
    {
        var (table, _) = NewTable(3);

        Assert.True(table.Start(2));
        Assert.False(table.Start(2));
        Assert.False(table.Start(3));

        Assert.Equal([WorkUnitState.Pending, WorkUnitState.Pending, WorkUnitState.Running], table.Items.Select(i => i.State));
        Assert.Equal(1, table[2].Attempt);
        Assert.True(table.Heartbeat(2, 1, "worker", null));
    }

    [Fact]
    public void A_reopened_item_keeps_its_attempt_number_so_its_last_attempts_late_report_stays_refused()
    {
        var (table, _) = NewTable(1);
        var item = Assert.Single(table.Dispatch());
        Assert.Equal(WorkOutcome.Accepted, table.Complete(0, item.Attempt));

        Assert.True(table.Reopen(0));
        Assert.False(table.Reopen(0));

        Assert.Equal(WorkUnitState.Pending, item.State);
        Assert.Equal(WorkOutcome.Refused, table.Complete(0, 1));
        Assert.True(table.Start(0));
        Assert.Equal(2, item.Attempt);
    }

    [Fact]
    public void A_withdrawn_item_is_failed_with_the_reason_and_never_dispatched_and_only_a_pending_one_can_be_withdrawn()
    {
        var (table, _) = NewTable(2);
        Assert.True(table.Start(1));

        Assert.True(table.Withdraw(0, "cancelled"));
        Assert.False(table.Withdraw(1, "running"));

        Assert.Equal((WorkUnitState.Failed, "cancelled"), (table[0].State, table[0].LastError));
        Assert.Empty(table.Dispatch());
        Assert.Equal(WorkUnitState.Running, table[1].State);
    }

    [Fact]
    public void Removing_a_finished_item_shifts_no_report_onto_another_item_and_reports_for_the_removed_one_are_refused()
    {
        var clock = new ManualClock();
        var table = new WorkTable<WorkItem>([], new WorkTableOptions(Lease, Stall, 3), clock);
        // Indices the coordinator keeps durable: never reused, so they need not be positions.
        foreach (var index in new[] { 10, 11, 12 }) table.Add(new WorkItem(), index);
        Assert.Throws<InvalidOperationException>(() => table.Add(new WorkItem(), 11));
        Assert.True(table.Start(10) && table.Start(11) && table.Start(12));
        Assert.False(table.Remove(10), "a running item was removed");
        Assert.Equal(WorkOutcome.Accepted, table.Complete(10, 1));

        Assert.True(table.Remove(10));

        // Item 11 now sits where 10 was: a report naming 10 must not reach it, and reports naming 11 and 12 still do.
        Assert.False(table.Heartbeat(10, 1, "w", 5));
        Assert.Equal(WorkOutcome.Refused, table.Complete(10, 1));
        Assert.True(table.Heartbeat(11, 1, "w11", 5));
        Assert.Equal(("w11", 5L), (table[11].Worker, table[11].Progress!.Value));
        Assert.Equal(WorkOutcome.Accepted, table.Complete(12, 1));
        Assert.Equal(WorkUnitState.Running, table[11].State);
        Assert.Equal([11, 12], table.Items.Select(i => i.Index));
        clock.Advance(Lease);
        Assert.Equal([11], table.ExpireLeases().Select(e => e.Item.Index));
    }
}
