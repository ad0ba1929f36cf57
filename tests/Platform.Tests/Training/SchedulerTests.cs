using Platform.Grains.Devices;
using Platform.Grains.Evaluation;
using Platform.Grains.Training;
using Platform.Model.Evaluation;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>The training scheduler and its trainers on a three-silo cluster where only two silos offer a device.</summary>
public sealed class SchedulerTests(TrainingClusterFixture cluster) : IClassFixture<TrainingClusterFixture>, IAsyncLifetime
{
    private ITrainingSchedulerGrain Scheduler => cluster.Scheduler;

    private Task<TrainingRunStatus> StatusOf(string runId) => cluster.Grains.GetGrain<ITrainingRunGrain>(runId).GetStatus();

    private static int[] Steps(TrainingRunStatus status) => [.. status.History.Select(s => s.Step)];

    /// <summary>Each test starts with every device free (the previous test's runs are all finished).</summary>
    public async ValueTask InitializeAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while ((await Scheduler.Allocations()).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(200);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Trainers_only_activate_on_the_two_silos_that_offer_devices()
    {
        string[] runs = ["where-1", "where-2", "where-3"];
        foreach (var run in runs) await Scheduler.Submit(cluster.Spec(run, steps: 2));
        var seen = new HashSet<DeviceAddress>();
        foreach (var run in runs)
            await cluster.WaitForAsync(run, r =>
            {
                seen.UnionWith(r.Devices);
                return r.Phase == TrainingRunPhase.Completed;
            }, "completed");

        var deviceSilos = cluster.Cluster.Silos.Where(s => s != cluster.IdleSilo).Select(s => s.SiloAddress.ToString()).ToHashSet();
        foreach (var run in runs)
        {
            var status = await StatusOf(run);
            Assert.Contains(status.Worker!, deviceSilos);
            Assert.Equal([1, 2], Steps(status));
        }
        Assert.NotEmpty(seen);
        Assert.DoesNotContain(seen, d => d.Silo == cluster.IdleSilo.SiloAddress.ToParsableString());
    }

    [Fact]
    public async Task A_two_device_run_waits_while_another_run_holds_one_then_starts_and_the_inventory_shows_who_holds_what()
    {
        await Scheduler.Submit(cluster.Spec("holder", steps: 5000));
        var holder = await cluster.WaitForPhaseAsync("holder", TrainingRunPhase.Running);

        var pair = await Scheduler.Submit(cluster.Spec("pair", steps: 2) with { Devices = 2 });

        Assert.Equal(TrainingRunPhase.Queued, pair.Phase);
        Assert.Equal("needs 2 cpu devices, 1 free", pair.WaitingReason);
        var inventory = await cluster.Grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices();
        Assert.Equal("holder", inventory.Single(d => d.Address == holder.Devices.Single()).HeldByRun);
        Assert.Null(inventory.Single(d => d.Address != holder.Devices.Single()).HeldByRun);

        await Scheduler.Cancel("holder");
        var running = await cluster.WaitForPhaseAsync("pair", TrainingRunPhase.Running);

        Assert.Equal(2, running.Devices.Count);
        Assert.Equal(2, running.Devices.Select(d => d.Silo).Distinct().Count());
        var allocations = await Scheduler.Allocations();
        inventory = await cluster.Grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices();
        Assert.Equal(allocations.Select(a => $"{a.Device} {a.RunId}").Order(), inventory.Where(d => d.HeldByRun is not null).Select(d => $"{d.Address} {d.HeldByRun}").Order());
        Assert.All(allocations, a => Assert.Equal("pair", a.RunId));
        Assert.Equal(TrainingRunPhase.Cancelled, (await Scheduler.Get("holder"))!.Phase);
        await cluster.WaitForPhaseAsync("pair", TrainingRunPhase.Completed);
        Assert.Empty(await Scheduler.Allocations());
        Assert.All(await cluster.Grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices(), d => Assert.Null(d.HeldByRun));
    }

    [Fact]
    public async Task Waiting_runs_are_placed_by_priority_then_submission_order()
    {
        await Scheduler.Submit(cluster.Spec("block-1", steps: 5000));
        await Scheduler.Submit(cluster.Spec("block-2", steps: 5000));
        await cluster.WaitForPhaseAsync("block-1", TrainingRunPhase.Running);
        await cluster.WaitForPhaseAsync("block-2", TrainingRunPhase.Running);
        await Scheduler.Submit(cluster.Spec("low-1", steps: 5000));
        await Scheduler.Submit(cluster.Spec("high", steps: 5000) with { Priority = 5 });
        await Scheduler.Submit(cluster.Spec("low-2", steps: 5000));

        var queued = (await Scheduler.List()).Where(r => r.Phase == TrainingRunPhase.Queued).Select(r => r.RunId);
        Assert.Equal(["high", "low-1", "low-2"], queued);

        await Scheduler.Cancel("block-1");
        await cluster.WaitForPhaseAsync("high", TrainingRunPhase.Running);
        Assert.Equal(TrainingRunPhase.Queued, (await Scheduler.Get("low-1"))!.Phase);
        await Scheduler.Cancel("block-2");
        await cluster.WaitForPhaseAsync("low-1", TrainingRunPhase.Running);
        var last = (await Scheduler.Get("low-2"))!;
        Assert.Equal(TrainingRunPhase.Queued, last.Phase);
        Assert.Equal("needs 1 cpu device, none free", last.WaitingReason);

        foreach (var run in new[] { "high", "low-1", "low-2" }) await Scheduler.Cancel(run);
        foreach (var run in new[] { "high", "low-1", "low-2" }) await cluster.WaitForPhaseAsync(run, TrainingRunPhase.Cancelled);
    }

    [Fact]
    public async Task Cancelling_a_queued_run_is_immediate_and_cancelling_a_running_run_stops_its_trainer_and_frees_its_device()
    {
        await Scheduler.Submit(cluster.Spec("cancel-running", steps: 5000));
        await cluster.WaitForAsync("cancel-running", r => r.Phase == TrainingRunPhase.Running && r.Step >= 1, "a step");
        await Scheduler.Submit(cluster.Spec("cancel-queued", steps: 2) with { Devices = 2 });

        var queued = await Scheduler.Cancel("cancel-queued");
        var cancelling = await Scheduler.Cancel("cancel-running");

        Assert.Equal(TrainingRunPhase.Cancelled, queued.Phase);
        Assert.Equal(0, queued.Attempt);
        Assert.Equal(TrainingRunPhase.Cancelling, cancelling.Phase);
        var cancelled = await cluster.WaitForPhaseAsync("cancel-running", TrainingRunPhase.Cancelled);
        Assert.True(cancelled.Step < 5000);
        Assert.Empty(cancelled.Devices);
        Assert.Empty(await Scheduler.Allocations());
        Assert.Equal(TrainingRunPhase.Cancelled, (await Scheduler.Resume("cancel-running")).Phase);
    }

    [Fact]
    public async Task A_paused_run_checkpoints_and_frees_its_device_and_once_resumed_continues_from_that_step_to_the_end()
    {
        // Long enough that the pause lands mid-run, however fast the steps are.
        const int steps = 300;
        await Scheduler.Submit(cluster.Spec("pausing", steps));
        await cluster.WaitForAsync("pausing", r => r.Phase == TrainingRunPhase.Running && r.Step >= 2, "two steps");

        await Scheduler.Pause("pausing");
        var paused = await cluster.WaitForPhaseAsync("pausing", TrainingRunPhase.Paused);

        Assert.InRange(paused.Step, 2, steps - 1);
        Assert.Empty(paused.Devices);
        Assert.Empty(await Scheduler.Allocations());
        var atPause = await StatusOf("pausing");
        Assert.Contains(atPause.Checkpoints, c => c.Step == paused.Step);
        Assert.Equal(Enumerable.Range(1, paused.Step), Steps(atPause));

        await Scheduler.Resume("pausing");
        var completed = await cluster.WaitForAsync("pausing", r => r.Phase == TrainingRunPhase.Completed, "completed", TimeSpan.FromMinutes(6));

        Assert.Equal((steps, 2), (completed.Step, completed.Attempt));
        var status = await StatusOf("pausing");
        Assert.Equal(Enumerable.Range(1, steps), Steps(status));
        Assert.Contains(status.Checkpoints, c => c.Step == steps);
    }

    [Fact]
    public async Task Submitting_a_run_id_again_returns_the_same_run_unchanged()
    {
        // Three devices are more than the cluster offers, so the run stays queued and nothing trains.
        var first = await Scheduler.Submit(cluster.Spec("twice", steps: 2) with { Devices = 3 });
        var again = await Scheduler.Submit(cluster.Spec("twice", steps: 9) with { Priority = 7 });

        Assert.Equal(first, again);
        Assert.Equal("needs 3 cpu devices, the cluster offers 2", again.WaitingReason);
        Assert.Single(await Scheduler.List(), r => r.RunId == "twice");
        Assert.Equal(TrainingRunPhase.Cancelled, (await Scheduler.Cancel("twice")).Phase);
    }

    [Fact]
    public async Task Invalid_specs_are_refused_before_anything_is_queued()
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Scheduler.Submit(cluster.Spec("bad/id", steps: 2)));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Scheduler.Submit(cluster.Spec("no-devices", steps: 2) with { Devices = 0 }));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Scheduler.Submit(cluster.Spec("no-steps", steps: 0)));

        Assert.DoesNotContain(await Scheduler.List(), r => r.RunId is "bad/id" or "no-devices" or "no-steps");
    }

    [Fact]
    public async Task A_hung_trainer_loses_its_lease_and_its_run_resumes_and_completes_with_every_step_once()
    {
        const int steps = 6;
        var runId = HangingFirstAttempts.Prefix + "-1";
        await Scheduler.Submit(cluster.Spec(runId, steps));
        await cluster.WaitForAsync(runId, r => r.Attempt == 1 && r.Step == HangingFirstAttempts.Step, "to its hang");

        var resumed = await cluster.WaitForAsync(runId, r => r.Attempt == 2, "a second attempt", TrainingClusterFixture.StallTimeout * 4);

        Assert.Contains("no progress", resumed.Error);
        var completed = await cluster.WaitForPhaseAsync(runId, TrainingRunPhase.Completed);
        Assert.Equal((steps, 2), (completed.Step, completed.Attempt));
        Assert.Equal(Enumerable.Range(1, steps), Steps(await StatusOf(runId)));
        Assert.Empty(await Scheduler.Allocations());
    }

    /// <summary>A quick captioning evaluation on the cluster's benchmark, on a device the scheduler lends.</summary>
    private RunEvaluation Captioning() => new("coco-captions", DefaultEvaluations.EnsureBenchmark(cluster.BenchmarkData), Prompt: "", MaxImages: 2);

    /// <summary>Samples the allocation table until <paramref name="done"/>; no sample may hold a device twice.</summary>
    private async Task<List<IReadOnlyList<DeviceAllocation>>> WatchAllocationsUntilAsync(Func<IReadOnlyList<DeviceAllocation>, Task<bool>> done, string what, TimeSpan timeout,
        TimeSpan? poll = null)
    {
        var samples = new List<IReadOnlyList<DeviceAllocation>>();
        try
        {
            await TrainingKillTests.WaitUntilAsync(async () =>
            {
                var allocations = await Scheduler.Allocations();
                samples.Add(allocations);
                Assert.True(allocations.Select(a => a.Device).Distinct().Count() == allocations.Count, $"a device is held twice: {string.Join(", ", allocations)}");
                return await done(allocations);
            }, what, timeout, poll);
        }
        catch (TimeoutException timedOut)
        {
            throw new TimeoutException($"{timedOut.Message}\n{await DescribeClusterAsync()}", timedOut);
        }
        return samples;
    }

    /// <summary>The scheduler's runs and allocations and each active run's evaluations: what a timed-out wait saw last.</summary>
    private async Task<string> DescribeClusterAsync()
    {
        var lines = new List<string> { "allocations: " + string.Join("; ", await Scheduler.Allocations()) };
        foreach (var run in await Scheduler.List())
        {
            lines.Add($"run {run.RunId}: {run.Phase} attempt {run.Attempt} step {run.Step}/{run.Steps} on [{string.Join(", ", run.Devices)}] waiting: {run.WaitingReason} error: {run.Error}");
            if (run.Phase is TrainingRunPhase.Completed or TrainingRunPhase.Cancelled or TrainingRunPhase.Failed) continue;
            foreach (var e in (await StatusOf(run.RunId)).Evaluations)
                lines.Add($"  evaluation {e.Task}@{e.Step}: {e.Phase} on {e.RanOn} waiting: {e.WaitingReason} error: {e.Error}");
        }
        return string.Join('\n', lines);
    }

    private Task<EvaluationStatus> EvaluationOf(TrainingRunStatus status, int step) =>
        cluster.Grains.GetGrain<IEvaluationGrain>(EvaluationKey.For(status.Checkpoints.Single(c => c.Step == step).Folder, EvaluationTask.CocoCaptions)).GetStatus();

    private async Task<TrainingRunStatus> EveryEvaluationFinishedAndEveryDeviceFreeAsync(string runId)
    {
        TrainingRunStatus status = null!;
        await WatchAllocationsUntilAsync(async allocations => allocations.Count == 0 && (status = await StatusOf(runId)) is var s
                && s.Evaluations.Select(e => e.Step).Order().SequenceEqual(s.Checkpoints.SelectMany(c => s.Spec.Evaluations!.Select(_ => c.Step)).Order())
                && s.Evaluations.All(e => e.Phase is EvaluationPhase.Completed or EvaluationPhase.Failed),
            $"every evaluation of {runId} finished and every device free", TimeSpan.FromMinutes(5));
        return status;
    }

    [Fact]
    public async Task A_run_naming_no_evaluations_gets_captioning_and_vqa_on_the_generated_benchmark_and_its_checkpoint_on_both_leaderboards()
    {
        var spec = cluster.Spec("defaults", steps: 2) with { Evaluations = null };

        var submitted = await Scheduler.Submit(spec);

        var status = await StatusOf("defaults");
        Assert.True(DefaultEvaluations.HoldsBenchmark(cluster.BenchmarkData));
        Assert.Equal(DefaultEvaluations.Resolve(cluster.BenchmarkData), status.Spec.Evaluations!);
        Assert.Equal(submitted.SubmissionOrder, (await Scheduler.Submit(spec)).SubmissionOrder);
        await cluster.WaitForPhaseAsync("defaults", TrainingRunPhase.Completed);
        status = await EveryEvaluationFinishedAndEveryDeviceFreeAsync("defaults");
        Assert.Equal([(2, "coco-captions"), (2, "vqa")], status.Evaluations.Select(e => (e.Step, e.Task)));
        Assert.All(status.Evaluations, e => Assert.True(e.Phase == EvaluationPhase.Completed && e.PrimaryScore is not null, e.Error));
        var checkpoint = status.Checkpoints.Single().Folder;
        foreach (var task in new[] { "coco-captions", "vqa" })
        {
            var entry = await cluster.Grains.GetGrain<ILeaderboardGrain>(task).Get(checkpoint);
            Assert.Equal(("defaults", 2L), (entry!.RunId, (long)entry.Step));
        }
    }

    [Fact]
    public async Task An_evaluation_runs_on_the_free_device_of_the_other_silo_while_its_trainer_holds_its_own_never_on_the_trainers()
    {
        // The first attempt hangs after its step-2 checkpoint, holding its device until its stall timeout: the evaluation of
        // that checkpoint starts meanwhile. The watch starts before the submission and the evaluation scores a few images,
        // so that a busy machine cannot hide the loan between two samples.
        var runId = HangingFirstAttempts.Prefix + "-beside";
        var borrower = $"eval:{runId}@2/coco-captions";
        var watching = WatchAllocationsUntilAsync(allocations => Task.FromResult(allocations.Any(a => a.RunId == borrower)), "the step-2 evaluation's loan",
            TimeSpan.FromMinutes(3), poll: TimeSpan.FromMilliseconds(50));
        await Scheduler.Submit(cluster.Spec(runId, steps: 4) with { CheckpointEvery = 2, Evaluations = [Captioning() with { MaxImages = 6 }] });

        var samples = await watching;

        var both = samples[^1];
        var lent = both.Single(a => a.RunId == borrower).Device;
        var trainer = both.Single(a => a.RunId == runId).Device;
        // Lent while the first attempt, the one that hangs, still holds its device.
        Assert.Equal(1, both.Single(a => a.RunId == runId).Attempt);
        Assert.NotEqual(trainer, lent);
        var inventory = await cluster.Grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices();
        Assert.Equal(borrower, inventory.Single(d => d.Address == lent).HeldByRun);
        await cluster.WaitForPhaseAsync(runId, TrainingRunPhase.Completed);
        var status = await EveryEvaluationFinishedAndEveryDeviceFreeAsync(runId);
        Assert.Equal([2, 4], status.Evaluations.Select(e => e.Step));
        Assert.All(status.Evaluations, e => Assert.True(e.Phase == EvaluationPhase.Completed, e.Error));
        var first = await EvaluationOf(status, 2);
        Assert.Equal((lent, 1), (first.RanOn, first.Runs));
        Assert.Equal(lent, status.Evaluations.Single(e => e.Step == 2).RanOn);
        var ranked = await cluster.Grains.GetGrain<ILeaderboardGrain>("coco-captions").Get(status.Checkpoints.Single(c => c.Step == 2).Folder);
        Assert.Equal((runId, 2L), (ranked!.RunId, (long)ranked.Step));
    }

    [Fact]
    public async Task Submitting_a_run_again_while_its_evaluations_ask_for_a_device_answers_at_once()
    {
        // Both devices are held, so the run's evaluations ask the scheduler for a loan at every checkpoint and timer tick,
        // while the scheduler, inside each resubmission, calls the run to register it.
        await Scheduler.Submit(cluster.Spec("resubmit-blocker", steps: 1_000_000));
        var spec = cluster.Spec("resubmitted", steps: 1_000_000) with { CheckpointEvery = 1, Evaluations = [Captioning()] };
        await Scheduler.Submit(spec);
        await cluster.WaitForAsync("resubmitted", r => r.Phase == TrainingRunPhase.Running && r.Step >= 2, "two steps");
        await TrainingKillTests.WaitUntilAsync(async () => (await StatusOf("resubmitted")).Evaluations.Any(e => e.WaitingReason is not null),
            "an evaluation waiting for a device", TimeSpan.FromMinutes(1));

        var slowest = TimeSpan.Zero;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(8);
        while (DateTime.UtcNow < until)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var again = await Scheduler.Submit(spec);
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
            Assert.Equal("resubmitted", again.RunId);
        }

        Assert.True(slowest < TimeSpan.FromSeconds(10), $"the slowest resubmission took {slowest}");
        await Scheduler.Cancel("resubmitted");
        await Scheduler.Cancel("resubmit-blocker");
        await WatchAllocationsUntilAsync(allocations => Task.FromResult(allocations.Count == 0), "every device free", TimeSpan.FromMinutes(1));

        // The cancelled run's waiting evaluations are given up, not handed the devices its cancellation freed (they once took them
        // from the next test's runs).
        await TrainingKillTests.WaitUntilAsync(async () => (await StatusOf("resubmitted")).Evaluations.All(e => e.Phase is EvaluationPhase.Completed or EvaluationPhase.Failed),
            "every evaluation of the cancelled run over", TimeSpan.FromMinutes(2));
        var evaluations = (await StatusOf("resubmitted")).Evaluations;
        Assert.Contains(evaluations, e => e.Error?.Contains("the run was cancelled", StringComparison.Ordinal) == true);
        Assert.All(evaluations, e => Assert.Null(e.WaitingReason));
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        Assert.Empty(await Scheduler.Allocations());
    }

    [Fact]
    public async Task Evaluations_wait_while_no_device_is_free_and_run_on_the_trainers_device_once_it_is_released()
    {
        await Scheduler.Submit(cluster.Spec("eval-blocker", steps: 1_000_000));
        var blocker = (await cluster.WaitForPhaseAsync("eval-blocker", TrainingRunPhase.Running)).Devices.Single();
        // Hangs after its step-2 checkpoint holding the only other device for its stall timeout, then resumes there.
        var runId = HangingFirstAttempts.Prefix + "-waits";
        await Scheduler.Submit(cluster.Spec(runId, steps: 4) with { CheckpointEvery = 2, Evaluations = [Captioning()] });
        var trainer = (await cluster.WaitForPhaseAsync(runId, TrainingRunPhase.Running)).Devices.Single();

        string? waiting = null;
        var samples = await WatchAllocationsUntilAsync(async _ =>
        {
            var status = await StatusOf(runId);
            if (status.Run.Phase == TrainingRunPhase.Running && status.Evaluations.FirstOrDefault(e => e.Step == 2) is { Phase: EvaluationPhase.NotStarted } evaluation)
                waiting ??= evaluation.WaitingReason;
            return status.Run.Phase == TrainingRunPhase.Completed;
        }, "the run's end", TimeSpan.FromMinutes(3));

        Assert.StartsWith("waits for a device: all 2 devices are held", waiting);
        // Each sample is read before the run's phase, so the last one may already show the loan the finished run made room
        // for (a CI run saw it); every earlier sample was read while the run still held its device.
        Assert.DoesNotContain(samples.SkipLast(1).SelectMany(s => s), a => a.RunId.StartsWith("eval:", StringComparison.Ordinal));
        var finishedAt = (await Scheduler.Get(runId))!.FinishedAt!.Value;
        TrainingRunStatus evaluated = null!;
        await WatchAllocationsUntilAsync(async _ => (evaluated = await StatusOf(runId)).Evaluations.Count == 2 && evaluated.Evaluations.All(e => e.Phase is EvaluationPhase.Completed or EvaluationPhase.Failed),
            "both evaluations", TimeSpan.FromMinutes(3));
        foreach (var step in new[] { 2, 4 })
        {
            var evaluation = await EvaluationOf(evaluated, step);
            Assert.True(evaluation.Phase == EvaluationPhase.Completed, evaluation.Error);
            Assert.Equal(trainer, evaluation.RanOn);
            Assert.True(evaluation.StartedAt >= finishedAt, $"the step-{step} evaluation started at {evaluation.StartedAt}, before its run released its device at {finishedAt}");
        }
        Assert.Equal(blocker, (await Scheduler.Get("eval-blocker"))!.Devices.Single());
        await Scheduler.Cancel("eval-blocker");
        await EveryEvaluationFinishedAndEveryDeviceFreeAsync(runId);
    }
}

/// <summary>A silo holding a trainer dies: its own cluster, since a silo is killed.</summary>
public sealed class SchedulerSiloLossTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task The_devices_of_a_killed_silo_are_reclaimed_and_its_run_resumes_on_the_other_silo_and_completes_counting_no_step_twice()
    {
        const int steps = 200;
        var cluster = new TrainingClusterFixture(azurite);
        await cluster.InitializeAsync();
        try
        {
            await cluster.Scheduler.Submit(cluster.Spec("lost-silo", steps));
            var first = await cluster.WaitForAsync("lost-silo", r => r.Phase == TrainingRunPhase.Running && r.Step >= 2, "two steps");
            var victim = cluster.Cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == first.Devices.Single().Silo);

            await cluster.Cluster.KillSiloAsync(victim, TestContext.Current.CancellationToken);

            var resumed = await cluster.WaitForAsync("lost-silo", r => r.Attempt == 2 && r.Phase == TrainingRunPhase.Running, "a second attempt");
            Assert.NotEqual(first.Devices.Single().Silo, resumed.Devices.Single().Silo);
            Assert.NotNull(resumed.Error);
            var completed = await cluster.WaitForAsync("lost-silo", r => r.Phase == TrainingRunPhase.Completed, "completed", TimeSpan.FromMinutes(6));
            Assert.Equal((steps, 2), (completed.Step, completed.Attempt));
            // The killed silo's training thread lives on in this process and may save a checkpoint of steps it could not
            // report; the next attempt resumes only from a checkpoint the run record accepted, so every step is in the
            // history exactly once.
            var history = (await cluster.Grains.GetGrain<ITrainingRunGrain>("lost-silo").GetStatus()).History.Select(s => s.Step).ToList();
            Assert.Equal(Enumerable.Range(1, steps), history);
            Assert.Empty(await cluster.Scheduler.Allocations());
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }
}
