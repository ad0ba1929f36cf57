using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model.Devices;
using Platform.Model.Training;

namespace Platform.Benchmarks;

/// <summary>What each round of `platform bench train-cluster` measured: the same run once through each path, in seconds.</summary>
public sealed record TrainClusterRound(double CommandSeconds, double ClusterSeconds);

/// <summary>The run both paths train: its shape, and what it was trained on.</summary>
public sealed record TrainClusterSettings(string Preset, int Steps, int SamplesPerStep, int Threads, ulong Seed, int Shards, int SamplesPerShard);

/// <summary>
/// What `platform bench train-cluster` measured. The rounds alternate which path goes first, so a burst of load on a shared
/// machine lands on one round of one path rather than deciding the ratio; the figures are the medians.
/// </summary>
public sealed record TrainClusterBenchmarkResult(TrainClusterSettings Settings, TrainClusterRound Warmup, IReadOnlyList<TrainClusterRound> Rounds, double MaxWeightDifference)
{
    /// <summary>Both paths train the same steps on the same data from the same seed, so they must end with the same weights.</summary>
    public const double WeightTolerance = 1e-5;

    public double CommandSeconds => BenchmarkStatistics.Median(Rounds.Select(r => r.CommandSeconds));
    public double ClusterSeconds => BenchmarkStatistics.Median(Rounds.Select(r => r.ClusterSeconds));

    /// <summary>The run through the scheduler against the same run in one process: what orchestration costs.</summary>
    public double Overhead => ClusterSeconds / CommandSeconds;

    public bool SameWeights => MaxWeightDifference <= WeightTolerance;


    public IEnumerable<string> Lines()
    {
        var s = Settings;
        string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
        yield return F($"run preset={s.Preset} steps={s.Steps} samples_per_step={s.SamplesPerStep} threads={s.Threads} seed={s.Seed} dataset_shards={s.Shards} samples_per_shard={s.SamplesPerShard}");
        yield return F($"warmup command={Warmup.CommandSeconds:F2}s cluster_1_silo={Warmup.ClusterSeconds:F2}s");
        for (var i = 0; i < Rounds.Count; i++)
            yield return F($"round {i + 1} command={Rounds[i].CommandSeconds:F2}s cluster_1_silo={Rounds[i].ClusterSeconds:F2}s");
        yield return F($"medians over {Rounds.Count} round(s):");
        yield return F($"command seconds={CommandSeconds:F2} steps_per_s={s.Steps / CommandSeconds:F2}");
        yield return F($"cluster_1_silo seconds={ClusterSeconds:F2} steps_per_s={s.Steps / ClusterSeconds:F2}");
        yield return F($"same_weights={(SameWeights ? "true" : "false")} max_difference={MaxWeightDifference:E2}");
        yield return F($"train_cluster_overhead={Overhead:F3}");
    }
}

/// <summary>
/// The same small training run (fixed steps, preset, seed and threads) through `platform train`'s one-process path
/// (<see cref="TrainingRun.Create"/>, then <see cref="SimVlmTrainer.RunAsync"/>) and through the training scheduler on one
/// in-process silo offering one CPU device, over one generated dataset committed to the silo's storage. The cluster's time
/// runs from the submission until the scheduler reports the run completed; silo start-up and data generation are not timed.
/// </summary>
public static class TrainClusterBenchmark
{
    private const string Dataset = "bench-train";

    /// <param name="addDevices">Gives a silo its training devices as the host does (metadata and device placement).</param>
    public static async Task<TrainClusterBenchmarkResult> RunAsync(Func<CancellationToken, Task<IClusterStorage>> startStorage,
        Action<ISiloBuilder, IReadOnlyList<TrainingDevice>> addDevices, string workDirectory, TrainClusterSettings settings, int rounds,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Steps, 1);
        workDirectory = Path.GetFullPath(workDirectory);
        if (Directory.Exists(workDirectory)) Directory.Delete(workDirectory, recursive: true);
        var shards = await TrainingDatasetGenerator.WriteAsync(Path.Combine(workDirectory, "dataset"), settings.Shards, settings.SamplesPerShard, seed: 1, cancellationToken);

        await using var storage = await startStorage(cancellationToken);
        await using var cluster = await StartSilosAsync(storage, addDevices, silos: 1, "bench-train-", cancellationToken);
        var grains = cluster.Grains;
        await TrainingDatasetGenerator.CommitAsync(grains, Dataset, shards);
        // As `platform train --dataset` finds them: the committed shards in manifest order.
        var manifests = cluster.Silos[0].Services.GetRequiredService<DatasetManifestStore>();
        var committed = (await manifests.ReadAsync(Dataset, cancellationToken)).Entries.Select(manifests.Resolve).ToList();

        var run = 0;
        async Task<(TrainClusterRound Round, string CommandRun, string ClusterRun)> RoundAsync(bool commandFirst)
        {
            run++;
            var commandRun = Path.Combine(workDirectory, $"command-{run}");
            var clusterRun = Path.Combine(workDirectory, $"cluster-{run}");
            double command = 0, cluster = 0;
            if (commandFirst) command = await TrainInProcessAsync(committed, settings, commandRun, cancellationToken);
            cluster = await TrainOnClusterAsync(grains, settings, $"bench-{run}-{Guid.NewGuid():N}"[..24], clusterRun, cancellationToken);
            if (!commandFirst) command = await TrainInProcessAsync(committed, settings, commandRun, cancellationToken);
            return (new TrainClusterRound(command, cluster), commandRun, clusterRun);
        }

        var (warmup, firstCommand, firstCluster) = await RoundAsync(commandFirst: true);
        var difference = CheckpointWeights.MaxDifference(firstCommand, firstCluster);
        var measured = new List<TrainClusterRound>();
        for (var round = 0; round < rounds; round++) measured.Add((await RoundAsync(commandFirst: round % 2 == 1)).Round);
        return new TrainClusterBenchmarkResult(settings, warmup, measured, difference);
    }

    private static TrainingRunSpec Spec(TrainClusterSettings settings, string runId, string checkpointFolder) => new()
    {
        RunId = runId,
        Dataset = Dataset,
        Preset = settings.Preset,
        Steps = settings.Steps,
        SamplesPerStep = settings.SamplesPerStep,
        Threads = settings.Threads,
        Seed = settings.Seed,
        DeviceKind = TrainingDevice.KindName(DeviceKind.Cpu),
        CheckpointLocation = checkpointFolder,
        // The one-process command evaluates nothing, so neither may the scheduled run it is timed against.
        Evaluations = [],
    };

    /// <summary>`platform train --dataset` on the same settings the scheduler's spec gives its trainer.</summary>
    private static async Task<double> TrainInProcessAsync(IReadOnlyList<DatasetShard> shards, TrainClusterSettings settings, string checkpointFolder,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        // The scheduler's trainer maps its spec the same way; a device address outside any cluster stands for this process's CPU.
        using var trainer = TrainingRun.Create(TrainingSpecMapping.Request(Spec(settings, "command", checkpointFolder), shards, checkpointFolder,
            new DeviceAddress("this-process", DeviceDetection.CpuSlot(0).Id)));
        await foreach (var _ in trainer.RunAsync(cancellationToken: cancellationToken)) { }
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> TrainOnClusterAsync(IGrainFactory grains, TrainClusterSettings settings, string runId, string checkpointFolder,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await RunToCompletionAsync(grains, Spec(settings, runId, checkpointFolder), cancellationToken);
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Submits <paramref name="spec"/> to the training scheduler and waits for it to complete (a run that ends otherwise throws);
    /// returns the devices it last held while running, which a completed run's summary no longer lists.
    /// </summary>
    internal static async Task<IReadOnlyList<DeviceAddress>> RunToCompletionAsync(IGrainFactory grains, TrainingRunSpec spec, CancellationToken cancellationToken)
    {
        var scheduler = grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        var summary = await scheduler.Submit(spec);
        IReadOnlyList<DeviceAddress> held = [];
        while (!summary.IsFinished)
        {
            if (summary.Phase == TrainingRunPhase.Running && summary.Devices.Count > 0) held = summary.Devices;
            await Task.Delay(25, cancellationToken);
            summary = await scheduler.Get(spec.RunId) ?? throw new InvalidOperationException($"The scheduler lost run {spec.RunId}.");
        }
        if (summary.Phase != TrainingRunPhase.Completed)
            throw new InvalidOperationException($"The benchmark run {spec.RunId} ended {summary.Phase}: {summary.Error}");
        return held;
    }

    /// <summary>In-process silos on <paramref name="storage"/>, each offering one CPU device as the host offers its own.</summary>
    internal static Task<InProcessCluster> StartSilosAsync(IClusterStorage storage, Action<ISiloBuilder, IReadOnlyList<TrainingDevice>> addDevices, int silos,
        string servicePrefix, CancellationToken cancellationToken) =>
        InProcessCluster.StartAsync(storage, silos, servicePrefix, (silo, _) => addDevices(silo, [DeviceDetection.CpuSlot(0)]), cancellationToken);
}
