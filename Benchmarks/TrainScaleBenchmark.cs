using System.Diagnostics;
using System.Globalization;
using Platform.Model;
using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;
using static TorchSharp.torch;

namespace Platform.Benchmarks;

/// <summary>What `platform bench train-scale` trains: the preset, the batch, H local steps per round and the rounds measured.</summary>
public sealed record TrainScaleSettings(string Preset, int SamplesPerStep, int SyncEvery, int Rounds, int WarmupSteps, ulong Seed);

/// <summary>One configuration's throughput: model tokens over the wall-clock seconds of the measured rounds, outer steps included.</summary>
public sealed record TrainScaleMeasurement(int Trainers, long Tokens, double Seconds, double SyncSeconds)
{
    public double TokensPerSecond => Tokens / Seconds;
}

/// <summary>
/// What `platform bench train-scale` measured: one trainer alone, then two DiLoCo replicas taking their H local steps at
/// the same time, each on its own thread with libtorch limited to one thread, and averaging once per round.
/// </summary>
public sealed record TrainScaleBenchmarkResult(TrainScaleSettings Settings, TrainScaleMeasurement One, TrainScaleMeasurement Two)
{
    /// <summary>Two trainers' tokens per second over twice one trainer's: 1 is perfect scaling.</summary>
    public double ScaleEfficiency => Two.TokensPerSecond / (2 * One.TokensPerSecond);

    public IEnumerable<string> Lines()
    {
        var s = Settings;
        string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
        yield return F($"run preset={s.Preset} samples_per_step={s.SamplesPerStep} sync_every={s.SyncEvery} rounds={s.Rounds} warmup_steps={s.WarmupSteps} threads_per_trainer=1 seed={s.Seed}");
        yield return "replicas: in-process DiLoCo replicas on their own threads (no silos: two silos' start-up and storage would share the same two cores)";
        foreach (var m in new[] { One, Two })
            yield return F($"trainers={m.Trainers} tokens={m.Tokens} seconds={m.Seconds:F2} outer_sync_s={m.SyncSeconds:F2} tokens/s={m.TokensPerSecond:F0}");
        yield return F($"scale_efficiency={ScaleEfficiency:F3}");
    }
}

/// <summary>
/// Measures how training throughput scales from one trainer to two DiLoCo replicas in one process (the same replica,
/// averaging and outer-step code the trainer grains run), each replica limited to one libtorch thread so that two fit
/// a two-core machine. Samples are synthetic (random pixels and token ids), as in <see cref="TrainingBenchmark"/>.
/// </summary>
public static class TrainScaleBenchmark
{
    public static TrainScaleBenchmarkResult Run(TrainScaleSettings settings, SimVlmConfig? config = null)
    {
        config ??= SimVlmConfig.Preset(settings.Preset);
        // Process-wide: each replica's thread then computes its own operations on one core, as a trainer limited to one thread would.
        set_num_threads(1);
        var one = Measure(config, settings, trainers: 1);
        var two = Measure(config, settings, trainers: 2);
        return new TrainScaleBenchmarkResult(settings, one, two);
    }

    private static TrainScaleMeasurement Measure(SimVlmConfig config, TrainScaleSettings settings, int trainers)
    {
        var tokenizer = TextTokenizer.BuildGpt2([], SpecialTokens.Count + 1); // vocabulary ids are synthetic
        int totalSteps = settings.WarmupSteps + settings.SyncEvery * settings.Rounds;
        var trainerList = Enumerable.Range(0, trainers).Select(rank =>
        {
            var options = new TrainingOptions
            {
                Steps = totalSteps, SamplesPerStep = settings.SamplesPerStep, WarmupSteps = 1, Threads = 1, Device = "cpu",
                Seed = settings.Seed + (ulong)rank, PrefetchSteps = 0,
            };
            return SimVlmTrainer.Start(config, options, tokenizer, TrainingBenchmark.SyntheticData(config, settings.Seed * 31 + (ulong)rank, imageText: 32, textOnly: 4));
        }).ToArray();
        try
        {
            var replicas = trainerList.Select((trainer, rank) => new DiLoCoReplica(trainer, rank)).ToArray();
            var outer = new OuterOptimizer(NamedWeights.Read(trainerList[0].Model), 0.7, 0.9);
            // Warm-up steps, not counted: first allocations and kernel choices.
            RunOnThreads(replicas, replica => replica.RunRound(-1, outer.Weights, settings.WarmupSteps, "fp32", 1 << 20));
            long tokens = 0;
            double syncSeconds = 0;
            var clock = Stopwatch.StartNew();
            for (int round = 0; round < settings.Rounds; round++)
            {
                var start = outer.Weights;
                var done = RunOnThreads(replicas, replica => replica.RunRound(round, start, settings.SyncEvery, "fp32", 1 << 20));
                var syncStarted = clock.Elapsed;
                var averager = new PseudoGradientAverager(start);
                foreach (var replicaRound in done)
                    foreach (byte[] chunk in replicaRound.Chunks) averager.Add(replicaRound.Rank, chunk);
                outer.Step(averager.Average());
                syncSeconds += (clock.Elapsed - syncStarted).TotalSeconds;
                tokens += done.Sum(r => r.Steps.Sum(s => s.ModelTokens));
            }
            return new TrainScaleMeasurement(trainers, tokens, clock.Elapsed.TotalSeconds, syncSeconds);
        }
        finally
        {
            foreach (var trainer in trainerList) trainer.Dispose();
        }
    }

    /// <summary>Each replica's work on a thread of its own, as each trainer grain runs its loop on a dedicated thread.</summary>
    private static ReplicaRound[] RunOnThreads(DiLoCoReplica[] replicas, Func<DiLoCoReplica, ReplicaRound> work)
    {
        var results = new ReplicaRound[replicas.Length];
        var failures = new Exception?[replicas.Length];
        var threads = replicas.Select((replica, i) => new Thread(() =>
        {
            try { results[i] = work(replica); }
            catch (Exception e) { failures[i] = e; }
        }) { IsBackground = true, Name = $"train-scale replica {i}" }).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        if (failures.OfType<Exception>().FirstOrDefault() is { } failure) throw new InvalidOperationException($"A replica failed: {failure.Message}", failure);
        return results;
    }
}
