using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Platform.Benchmarks;
using Platform.Datasets;
using Platform.Grains.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model.Devices;
using Platform.Model.Training;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>
/// A silo holding a trainer dies mid-run: the run resumes from its last checkpoint on the other device's silo and ends with
/// the weights of the same run trained uninterrupted in one process (`platform train`'s path), its history counting each
/// step once, and no device left held.
/// </summary>
public sealed class TrainingKillTests(AzuriteFixture azurite) : IDisposable
{
    private const int Steps = 40;
    private const int CheckpointEvery = 10;
    private static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(6);

    private readonly string root = Directory.CreateTempSubdirectory("training-kill-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private TrainingRunSpec Spec(string runId, string dataset) => new()
    {
        RunId = runId,
        Dataset = dataset,
        Preset = "tiny",
        Steps = Steps,
        SamplesPerStep = 4,
        WarmupSteps = 5,
        Threads = 1,
        ShuffleBuffer = 16,
        CheckpointEvery = CheckpointEvery,
        DeviceKind = "cpu",
        CheckpointLocation = Path.Combine(root, "runs", runId),
    };

    /// <summary>The run as `platform train --dataset` trains it: one process, never interrupted, on the same committed shards.</summary>
    private async Task<string> TrainUninterruptedAsync(TrainingRunSpec spec, DatasetManifestStore manifests)
    {
        var folder = Path.Combine(root, "uninterrupted");
        var shards = (await manifests.ReadAsync(spec.Dataset, TestContext.Current.CancellationToken)).Entries.Select(manifests.Resolve).ToList();
        using var trainer = TrainingRun.Create(TrainingSpecMapping.Request(spec, shards, folder, new DeviceAddress("this-process", "cpu:0")));
        await foreach (var _ in trainer.RunAsync(cancellationToken: TestContext.Current.CancellationToken)) { }
        return folder;
    }

    [Fact]
    public async Task A_run_whose_trainer_silo_is_killed_after_a_checkpoint_completes_on_the_other_silo_with_the_uninterrupted_runs_weights()
    {
        var ct = TestContext.Current.CancellationToken;
        // The primary silo offers no device, so the victim is never the silo the test cluster's client and membership start from.
        var built = 0;
        await using var cluster = await PlatformTestCluster.StartAsync(azurite.Connection, $"kill-{Guid.NewGuid().ToString("N")[..8]}", silos: 3,
            devices: _ => Interlocked.Increment(ref built) == 1 ? [] : [DeviceDetection.CpuSlot(0)],
            configure: (_, silo) => silo.Services.AddPlatformTraining(o =>
            {
                o.CheckpointRoot = Path.Combine(root, "checkpoints");
                o.LeaseTimeout = LeaseTimeout;
                o.CheckInterval = TimeSpan.FromMilliseconds(250);
            }));
        var grains = cluster.Client;
        var inventory = grains.GetGrain<IDeviceInventoryGrain>(0);
        await WaitUntilAsync(async () => (await inventory.ListDevices()).Count == 2, "both devices in the inventory", TimeSpan.FromMinutes(1));
        var deviceSilos = (await inventory.ListDevices()).Select(d => d.Silo).ToList();

        var dataset = $"kill-{Guid.NewGuid():N}"[..14];
        await TrainingDatasetGenerator.CommitAsync(grains, dataset, await TrainingDatasetGenerator.WriteAsync(Path.Combine(root, "dataset"), shards: 2, samplesPerShard: 8, seed: 3, ct));
        var spec = Spec("killed-" + Guid.NewGuid().ToString("N")[..8], dataset);
        var scheduler = grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        var record = grains.GetGrain<ITrainingRunGrain>(spec.RunId);
        await scheduler.Submit(spec);

        // Kill the trainer's silo once the run has a checkpoint to resume from and steps past it to redo.
        await WaitUntilAsync(async () => (await record.GetStatus()) is { Checkpoints.Count: > 0, Latest.Step: var step } && step > CheckpointEvery,
            "a checkpoint and a step past it", TimeSpan.FromMinutes(4));
        var held = Assert.Single(await scheduler.Allocations());
        Assert.Equal(1, held.Attempt);
        var victim = cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == held.Device.Silo);
        var stepAtKill = (await scheduler.Get(spec.RunId))!.Step;
        Assert.True(stepAtKill < Steps, $"the run finished (step {stepAtKill}) before its silo could be killed");
        await cluster.KillSiloAsync(victim, ct);

        // Where the attempts after the killed one train (until the scheduler sees the silo gone, it still lists attempt 1 there).
        var placedAfterKill = new HashSet<string>();
        TrainingRunSummary run = null!;
        await WaitUntilAsync(async () =>
        {
            foreach (var allocation in await scheduler.Allocations())
                if (allocation.Attempt > held.Attempt) placedAfterKill.Add(allocation.Device.Silo);
            run = (await scheduler.Get(spec.RunId))!;
            return run.IsFinished;
        }, "the run's end", TimeSpan.FromMinutes(5));

        Assert.Equal(TrainingRunPhase.Completed, run.Phase);
        Assert.Equal(Steps, run.Step);
        Assert.True(run.Attempt >= 2, $"the run completed in attempt {run.Attempt}, so nothing resumed it after the kill");
        var survivor = cluster.Silos.Single(s => s != victim && deviceSilos.Contains(s.SiloAddress.ToParsableString()));
        Assert.Equal(new[] { survivor.SiloAddress.ToParsableString() }, placedAfterKill);

        // Exact resume: the final checkpoint equals the uninterrupted run's, parameter by parameter.
        var final = Checkpoint.Latest(spec.CheckpointLocation!)!;
        Assert.Equal(Steps, Checkpoint.ReadState(final).Step);
        var uninterrupted = await TrainUninterruptedAsync(spec, cluster.Silos[0].ServiceProvider.GetRequiredService<DatasetManifestStore>());
        var difference = CheckpointWeights.MaxDifference(final, uninterrupted);
        Assert.True(difference <= 1e-5, $"the resumed run's weights differ from the uninterrupted run's by up to {difference}");

        // The device table is consistent: nothing allocated, no device held.
        Assert.Empty(await scheduler.Allocations());
        Assert.All(await inventory.ListDevices(), device => Assert.Null(device.HeldByRun));
        // Steps after the checkpoint were redone, and the history counts each step once.
        var status = await record.GetStatus();
        Assert.Equal(survivor.SiloAddress.ToString(), status.Worker);
        Assert.True(Enumerable.Range(1, Steps).SequenceEqual(status.History.Select(s => s.Step)),
            $"history steps {string.Join(",", status.History.Select(s => s.Step))}; checkpoints {string.Join(",", status.Checkpoints.Select(c => c.Step))}; " +
            $"attempt {run.Attempt}, killed at step {stepAtKill}");
        Assert.Contains(status.Checkpoints, c => c.Step == Steps);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {timeout} for {what}.");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>What the run record does when steps it took were lost with an activation that died before writing them.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class TrainingRunLostStepsTests(SharedClusterFixture shared)
{
    private static TrainingStepRecord Step(int step) => new(step, 1.0, 1e-4, 1.0, 100, null, 0.1, 0, 0.05, 0.04, 0.01, DateTimeOffset.UtcNow);

    [Fact]
    public async Task Steps_that_skip_past_the_record_are_refused_so_the_attempt_is_redone_from_its_checkpoint()
    {
        var runId = "lost-steps-" + Guid.NewGuid().ToString("N")[..8];
        var record = shared.Grains.GetGrain<ITrainingRunGrain>(runId);
        await record.Register(new TrainingRunSpec { RunId = runId, Dataset = "none", Steps = 10 }, Path.Combine(Path.GetTempPath(), runId));
        Assert.True(await record.AttemptStarted(1, fromStep: 0, "worker"));
        Assert.True(await record.ReportSteps(1, [Step(1), Step(2)]));

        // Steps 3 and 4 went to an activation that died before writing them.
        Assert.False(await record.ReportSteps(1, [Step(5), Step(6)]));
        // A batch sent again, and the next one in order, are taken as always.
        Assert.True(await record.ReportSteps(1, [Step(2), Step(3)]));
        Assert.True(await record.ReportSteps(1, [Step(4)]));
        // The next attempt goes on from its checkpoint.
        Assert.True(await record.AttemptStarted(2, fromStep: 4, "worker"));
        Assert.True(await record.ReportSteps(2, [Step(5)]));
    }
}
