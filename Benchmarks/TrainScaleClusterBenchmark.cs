using System.Globalization;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model.Devices;
using Platform.Model.Training;

namespace Platform.Benchmarks;

/// <summary>The generated dataset the silo mode of `platform bench train-scale` trains on: its shards are the DiLoCo replicas' data parts.</summary>
public sealed record TrainScaleData(int Shards, int SamplesPerShard);

/// <summary>
/// `platform bench train-scale` on silos: two in-process silos offering one CPU device each, over one storage and one generated
/// dataset; each round submits a plain one-trainer run and a two-trainer DiLoCo run (K=2, one replica grain per silo) to the
/// training scheduler, in alternating order, every trainer with libtorch limited to one thread. Throughput comes from the
/// runs' own records, never from the submission's wall clock, so silo start-up, data generation, the scheduler's placement
/// and each trainer's start (tokenizer, model, first steps) stay out:
/// <list type="bullet">
/// <item>one trainer: the steps after its warm-up steps, timed from the step that ends the warm-up to the last step (the
/// times at which the trainer read the steps' metrics, which it does every <see cref="TrainingOptions.MetricsEvery"/> steps);</item>
/// <item>two trainers: the rounds after a warm-up round, timed from the moment the warm-up round's last report was in to the
/// moment the last round's was, so each measured round counts its steps, its barrier, its exchange and one outer step.</item>
/// </list>
/// </summary>
public static class TrainScaleClusterBenchmark
{
    private const string Dataset = "bench-train-scale";

    /// <summary>The steps between the trainer's reads of its metrics, at which a step's record carries its own finishing time.</summary>
    public static int MetricsEvery => new TrainingOptions().MetricsEvery;

    public static async Task<TrainScaleBenchmarkResult> RunAsync(Func<CancellationToken, Task<IClusterStorage>> startStorage,
        Action<ISiloBuilder, IReadOnlyList<TrainingDevice>> addDevices, string workDirectory, TrainScaleSettings settings, TrainScaleData data,
        CancellationToken cancellationToken)
    {
        settings.Validate();
        if (settings.WarmupSteps < MetricsEvery || settings.WarmupSteps % MetricsEvery != 0)
            throw new ArgumentException($"--warmup {settings.WarmupSteps}: on silos it must be a positive multiple of {MetricsEvery}, the steps between a trainer's metric reads, whose times the window starts at.");
        if (data.Shards < 2) throw new ArgumentException($"--shards {data.Shards}: two replicas need at least two shards, one data part each.");
        workDirectory = Path.GetFullPath(workDirectory);
        if (Directory.Exists(workDirectory)) Directory.Delete(workDirectory, recursive: true);
        var shards = await TrainingDatasetGenerator.WriteAsync(Path.Combine(workDirectory, "dataset"), data.Shards, data.SamplesPerShard, seed: 1, cancellationToken);

        await using var storage = await startStorage(cancellationToken);
        await using var cluster = await TrainClusterBenchmark.StartSilosAsync(storage, addDevices, silos: 2, "bench-scale-", cancellationToken);
        var grains = cluster.Grains;
        await TrainingDatasetGenerator.CommitAsync(grains, Dataset, shards);

        using var cpu = new ProcessCpuSampler();
        var rounds = new List<TrainScaleRound>();
        for (int round = 1; round <= settings.Rounds; round++)
        {
            bool oneFirst = round % 2 == 1;
            TrainScaleMeasurement? one = null, two = null;
            foreach (int trainers in oneFirst ? new[] { 1, 2 } : [2, 1])
            {
                var spec = Spec(settings, trainers, $"scale-{round}-k{trainers}-{Guid.NewGuid():N}"[..24], Path.Combine(workDirectory, $"round-{round}-k{trainers}"));
                var devices = await TrainClusterBenchmark.RunToCompletionAsync(grains, spec, cancellationToken);
                var record = grains.GetGrain<ITrainingRunGrain>(spec.RunId);
                var steps = (await record.GetStatus()).History;
                if (trainers == 1) one = MeasureOne(settings, steps, devices, cpu);
                else two = MeasureTwo(settings, steps, (await record.GetDiLoCoStatus())!, cpu);
            }
            rounds.Add(new TrainScaleRound(one!, two!, oneFirst));
        }
        return new TrainScaleBenchmarkResult(settings, TrainScaleMode.Silos, rounds,
            string.Create(CultureInfo.InvariantCulture, $" dataset_shards={data.Shards} samples_per_shard={data.SamplesPerShard}"));
    }

    private static TrainingRunSpec Spec(TrainScaleSettings settings, int trainers, string runId, string checkpointFolder) => new()
    {
        RunId = runId,
        Dataset = Dataset,
        Preset = settings.Preset,
        Steps = trainers == 1 ? settings.WarmupSteps + settings.MeasuredSteps : (1 + settings.SyncRounds) * settings.SyncEvery,
        SamplesPerStep = settings.SamplesPerStep,
        Threads = 1,
        Seed = settings.Seed,
        Trainers = trainers,
        Devices = trainers,
        SyncEvery = settings.SyncEvery,
        DeviceKind = TrainingDevice.KindName(DeviceKind.Cpu),
        CheckpointLocation = checkpointFolder,
        // Only the run's last checkpoint, after every timed step; no evaluations to take the silos' cores.
        CheckpointEvery = 0,
        Evaluations = [],
    };

    private static TrainScaleMeasurement MeasureOne(TrainScaleSettings settings, IReadOnlyList<TrainingStepRecord> history, IReadOnlyList<DeviceAddress> devices, ProcessCpuSampler cpu)
    {
        var start = history.SingleOrDefault(s => s.Step == settings.WarmupSteps)
            ?? throw new InvalidOperationException($"The one-trainer run's record lacks step {settings.WarmupSteps}, where its window starts.");
        var measured = history.Where(s => s.Step > settings.WarmupSteps).ToArray();
        if (measured.Length != settings.MeasuredSteps)
            throw new InvalidOperationException($"The one-trainer run's record holds {measured.Length} steps after the warm-up, not {settings.MeasuredSteps}.");
        double seconds = (measured[^1].FinishedAt - start.FinishedAt).TotalSeconds;
        return new TrainScaleMeasurement(1, measured.Sum(s => s.ModelTokens), seconds, seconds - measured.Sum(s => s.StepSeconds), null,
            cpu.Use(start.FinishedAt, measured[^1].FinishedAt), [.. devices.Select(d => d.Silo)]);
    }

    private static TrainScaleMeasurement MeasureTwo(TrainScaleSettings settings, IReadOnlyList<TrainingStepRecord> history, DiLoCoStatus rounds, ProcessCpuSampler cpu)
    {
        var ordered = rounds.History.OrderBy(r => r.Round).ToArray();
        if (ordered.Length != 1 + settings.SyncRounds || ordered.Select(r => r.Round).First() != 0)
            throw new InvalidOperationException($"The two-trainer run's record holds rounds {string.Join(",", ordered.Select(r => r.Round))}, not 0 to {settings.SyncRounds}.");
        var measuredRounds = ordered[1..];
        if (measuredRounds.FirstOrDefault(r => r.Ranks.Count != 2) is { } partial)
            throw new InvalidOperationException($"Round {partial.Round} of the two-trainer run averaged replicas {string.Join(",", partial.Ranks)} only (a replica was dropped, its silo too slow to heartbeat): the throughput would not be two trainers'.");
        var (from, to) = (ordered[0].AllReportedAt, ordered[^1].AllReportedAt);
        double seconds = (to - from).TotalSeconds;
        // A round's steps in the run's record are the replicas' steps taken together: tokens summed, step times the first replica's.
        var measured = history.Where(s => s.Step > settings.SyncEvery).ToArray();
        if (measured.Length != settings.MeasuredSteps)
            throw new InvalidOperationException($"The two-trainer run's record holds {measured.Length} steps after its warm-up round, not {settings.MeasuredSteps}.");
        // Each replica names the silo it trained on in every report; one that moved between rounds is named with each.
        var silos = Enumerable.Range(0, 2)
            .Select(rank => string.Join(" then ", measuredRounds.Select(r => r.Silos?[r.Ranks.ToList().IndexOf(rank)] ?? "unknown").Distinct()))
            .ToArray();
        return new TrainScaleMeasurement(2, measured.Sum(s => s.ModelTokens), seconds, seconds - measured.Sum(s => s.StepSeconds),
            measuredRounds.Sum(r => r.BarrierWaitSeconds), cpu.Use(from, to), silos, Costs(measuredRounds));
    }

    /// <summary>The rounds' breakdown of their time outside the steps, when every round's record holds one.</summary>
    private static TrainScaleRoundCosts? Costs(IReadOnlyList<DiLoCoRoundRecord> rounds)
    {
        if (rounds.Any(r => r.CoordinatorTimings is null || r.ReplicaTimings is null || r.ReplicaTimings.Any(t => t is null))) return null;
        double Replicas(Func<DiLoCoReplicaTimings, double> part) => rounds.Sum(r => r.ReplicaTimings!.Average(t => part(t!)));
        double Coordinator(Func<DiLoCoCoordinatorTimings, double> part) => rounds.Sum(r => part(r.CoordinatorTimings!));
        return new TrainScaleRoundCosts(Replicas(t => t.WaitSeconds), Replicas(t => t.FetchSeconds), Replicas(t => t.PseudoGradientSeconds),
            Replicas(t => t.ChunkWriteSeconds), Replicas(t => t.StateSaveSeconds),
            Coordinator(t => t.ReadAndAverageSeconds), Coordinator(t => t.RecordSeconds), Coordinator(t => t.OuterStepSeconds), Coordinator(t => t.PublishSeconds));
    }
}
