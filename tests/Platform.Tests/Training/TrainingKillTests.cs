using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Platform.Benchmarks;
using Platform.Datasets;
using Platform.Grains.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model.Devices;
using Platform.Model.Training;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>
/// A silo holding a trainer dies mid-run: the run resumes from its last checkpoint on the other device's silo and ends with
/// the weights of the same run trained uninterrupted in one process (`platform train`'s path), its history counting each
/// step once, and no device left held.
/// </summary>
[Collection(ExactWeightsCollection.Name)]
public sealed class TrainingKillTests(AzuriteFixture azurite) : IDisposable
{
    internal const int Steps = 40;
    internal const int CheckpointEvery = 10;
    private static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(6);

    private readonly string root = Directory.CreateTempSubdirectory("training-kill-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private TrainingRunSpec Spec(string runId, string dataset) => ResumableSpec(runId, dataset, Path.Combine(root, "runs", runId));

    /// <summary>A tiny CPU run short enough for a test, with checkpoints to resume from after its trainer is killed.</summary>
    internal static TrainingRunSpec ResumableSpec(string runId, string dataset, string checkpointLocation) => new()
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
        CheckpointLocation = checkpointLocation,
        // An evaluation would borrow the other silo's device, where the run must resume after the kill.
        Evaluations = [],
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
            try
            {
                foreach (var allocation in await scheduler.Allocations())
                    if (allocation.Attempt > held.Attempt) placedAfterKill.Add(allocation.Device.Silo);
                run = (await scheduler.Get(spec.RunId))!;
                return run.IsFinished;
            }
            catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException)
            {
                // A scheduler that lived on the killed silo answers again once the cluster has declared that silo dead.
                return false;
            }
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

    /// <summary>`platform up` in Azure Table cluster mode on the shared Azurite, offering one CPU slot, with short trainer leases.</summary>
    private Dictionary<string, string> ClusterProcess(string cluster, int siloPort) => new()
    {
        ["PLATFORM_Clustering__Mode"] = "AzureTable",
        ["PLATFORM_Clustering__ClusterId"] = cluster,
        ["PLATFORM_Clustering__ServiceId"] = cluster,
        ["PLATFORM_Clustering__SiloPort"] = siloPort.ToString(),
        ["PLATFORM_Storage__ConnectionString"] = azurite.Connection.ConnectionString,
        ["PLATFORM_Training__Devices"] = "cpu",
        ["PLATFORM_Training__CheckpointRoot"] = Path.Combine(root, "checkpoints"),
        ["PLATFORM_Training__LeaseTimeout"] = LeaseTimeout.ToString(),
        ["PLATFORM_Training__CheckInterval"] = "00:00:00.500",
        // Until membership declares the killed process dead (tens of seconds), its device still counts as free and each
        // attempt placed there is lost after a lease: those are not the run's failures.
        ["PLATFORM_Training__MaxFailures"] = "50",
    };

    [Fact]
    public async Task A_run_whose_trainer_process_gets_sigkill_completes_in_the_other_process_of_the_cluster_with_the_uninterrupted_runs_weights()
    {
        var ct = TestContext.Current.CancellationToken;
        var clusterId = "kill-process-" + Guid.NewGuid().ToString("N")[..8];
        var ports = new[] { AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort() };
        await using var first = PlatformProcess.StartUp(ClusterProcess(clusterId, ports[0]), azurite.Connection);
        await using var second = PlatformProcess.StartUp(ClusterProcess(clusterId, ports[1]), azurite.Connection);
        var processes = new[] { first, second };
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        foreach (var process in processes) await process.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));
        await WaitUntilAsync(async () => (await GetJsonAsync(http, first, "/api/devices"))?.GetProperty("devices").GetArrayLength() == 2,
            "both processes' devices in the inventory", TimeSpan.FromMinutes(1));

        var dataset = $"killp-{Guid.NewGuid():N}"[..14];
        var manifests = new DatasetManifestStore(azurite.Connection.CreateBlobClient(), PlatformTestCluster.ManifestContainer);
        var shards = await TrainingDatasetGenerator.WriteAsync(Path.Combine(root, "dataset"), shards: 2, samplesPerShard: 8, seed: 3, ct);
        await manifests.AppendAsync(dataset, new ManifestTail(0, 0),
            [.. shards.Select(s => new ManifestShard(s.ShardId, s.SampleCount, s.SizeBytes, s.Checksum, s.Location, s.CommittedAt))], ct);
        var spec = Spec("sigkilled-" + Guid.NewGuid().ToString("N")[..8], dataset);
        using (var posted = await http.PostAsJsonAsync(new Uri(first.BaseAddress, "/api/train/runs"), spec, ct))
            Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync(ct));
        var statusPath = $"/api/train/runs/{spec.RunId}";

        JsonElement status = default;
        await WaitUntilAsync(async () => (await GetJsonAsync(http, first, statusPath)) is { } s && (status = s).GetProperty("checkpoints").GetArrayLength() > 0
                && s.GetProperty("latest").ValueKind == JsonValueKind.Object && s.GetProperty("latest").GetProperty("step").GetInt32() > CheckpointEvery,
            "a checkpoint and a step past it", TimeSpan.FromMinutes(4));
        var holder = status.GetProperty("run").GetProperty("devices").EnumerateArray().Single().GetProperty("silo").GetString()!;
        var victimIndex = Array.IndexOf(ports, SiloPort(holder));
        Assert.True(victimIndex >= 0, $"the trainer's silo {holder} is neither process");
        var (victim, survivor) = (processes[victimIndex], processes[1 - victimIndex]);
        Assert.True(status.GetProperty("run").GetProperty("step").GetInt32() < Steps, "the run finished before its process could be killed");
        victim.Process.Kill(); // SIGKILL: no shutdown, no last checkpoint, no goodbye to the cluster
        await victim.Process.WaitForExitAsync(ct);

        await WaitUntilAsync(async () => (await GetJsonAsync(http, survivor, statusPath)) is { } s
                && (status = s).GetProperty("run").GetProperty("phase").GetString() is "Completed" or "Failed" or "Cancelled",
            "the run's end", TimeSpan.FromMinutes(6));

        var run = status.GetProperty("run");
        Assert.True(run.GetProperty("phase").GetString() == "Completed", status.ToString());
        Assert.Equal(Steps, run.GetProperty("step").GetInt32());
        Assert.True(run.GetProperty("attempt").GetInt32() >= 2, $"the run completed in attempt {run.GetProperty("attempt")}, so nothing resumed it after the kill");
        Assert.Contains($":{ports[1 - victimIndex]}", status.GetProperty("worker").GetString());
        var history = status.GetProperty("history").EnumerateArray().Select(p => p.GetProperty("step").GetInt32()).ToArray();
        Assert.True(Enumerable.Range(1, Steps).SequenceEqual(history), $"history steps {string.Join(",", history)}");

        var final = Checkpoint.Latest(spec.CheckpointLocation!)!;
        Assert.Equal(Steps, Checkpoint.ReadState(final).Step);
        var difference = CheckpointWeights.MaxDifference(final, await TrainUninterruptedAsync(spec, manifests));
        Assert.True(difference <= 1e-5, $"the resumed run's weights differ from the uninterrupted run's by up to {difference}");

        var devices = (await GetJsonAsync(http, survivor, "/api/devices"))!.Value.GetProperty("devices").EnumerateArray().ToArray();
        Assert.All(devices, device => Assert.Equal(JsonValueKind.Null, device.GetProperty("heldByRun").ValueKind));
    }

    /// <summary>The port of a silo address `ip:port@generation`.</summary>
    private static int SiloPort(string siloAddress) => int.Parse(siloAddress.Split(':')[1].Split('@')[0]);

    /// <summary>The JSON a process answers at <paramref name="path"/>; null while it cannot answer (the cluster finding out a process died).</summary>
    private static async Task<JsonElement?> GetJsonAsync(HttpClient http, PlatformProcess process, string path)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(process.BaseAddress, path), TestContext.Current.CancellationToken);
            if (!response.IsSuccessStatusCode) return null;
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            return json.RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan timeout, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {timeout} for {what}.");
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(200), TestContext.Current.CancellationToken);
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
