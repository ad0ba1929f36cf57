using System.Diagnostics;
using System.Globalization;
using Platform.Model;
using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;
using static TorchSharp.torch;

namespace Platform.Benchmarks;

/// <summary>Where `platform bench train-scale` runs its trainers: grains on in-process silos through the scheduler, or bare replicas on threads.</summary>
public enum TrainScaleMode
{
    Silos,
    Threads,
}

/// <summary>
/// What `platform bench train-scale` trains: the preset, each trainer's batch, H local steps per round, the measured DiLoCo
/// rounds of each two-trainer run (after a warm-up round on silos, after <paramref name="WarmupSteps"/> on threads), the
/// one-trainer run's warm-up steps, and the alternating benchmark rounds (one trainer, two trainers, then two, one...).
/// </summary>
public sealed record TrainScaleSettings(string Preset, int SamplesPerStep, int SyncEvery, int SyncRounds, int WarmupSteps, ulong Seed, int Rounds = 1)
{
    /// <summary>Steps each trainer's measured window holds: the same for one trainer and for each of the two.</summary>
    public int MeasuredSteps => SyncEvery * SyncRounds;

    public TrainScaleSettings Validate()
    {
        if (SamplesPerStep < 1 || SyncEvery < 1 || SyncRounds < 1 || Rounds < 1 || WarmupSteps < 0)
            throw new ArgumentException($"--batch ({SamplesPerStep}), --sync-every ({SyncEvery}), --sync-rounds ({SyncRounds}) and --rounds ({Rounds}) must be at least 1, --warmup ({WarmupSteps}) not negative.");
        return this;
    }
}

/// <summary>
/// One configuration's throughput over its measured window: model tokens (every trainer's) over wall-clock seconds.
/// <paramref name="OutsideStepsSeconds"/> is the window less the first trainer's own step times: what the round barrier, the
/// outer step, the exchange and the reporting cost it. <paramref name="BarrierSeconds"/>: the coordinator's time from a
/// round's first report to its last (silos only). <paramref name="Silos"/>: where each trainer (by rank) ran.
/// </summary>
public sealed record TrainScaleMeasurement(int Trainers, long Tokens, double Seconds, double OutsideStepsSeconds, double? BarrierSeconds, CpuUse? Cpu,
    IReadOnlyList<string> Silos, TrainScaleRoundCosts? Costs = null)
{
    public double TokensPerSecond => Tokens / Seconds;

    /// <summary>Tokens per second of CPU the process got: on a machine other work loads, what the trainers made of the cores they had.</summary>
    public double? TokensPerCpuSecond => Cpu is { Cores: > 0 } use ? TokensPerSecond / use.Cores : null;

    internal string Line()
    {
        var cpu = Cpu is { } use
            ? FormattableString.Invariant($" cpu_cores={use.Cores:F2} busiest_threads=") + string.Join(',', use.BusiestThreads.Select(t => t.ToString("F2", CultureInfo.InvariantCulture)))
            : " cpu=unsampled";
        return FormattableString.Invariant($"trainers={Trainers} tokens={Tokens} seconds={Seconds:F2} tokens/s={TokensPerSecond:F0} outside_steps_s={OutsideStepsSeconds:F2}")
               + (BarrierSeconds is double barrier ? FormattableString.Invariant($" barrier_s={barrier:F2}") : "") + cpu;
    }
}

/// <summary>
/// Where the measured DiLoCo rounds' time outside the steps went, in seconds summed over those rounds (silos only), from the
/// rounds' records: each replica's part as the mean over the replicas (waiting for the round to open, fetching its start
/// weights, computing the pseudo-gradient, writing the chunks, saving the trainer's state) and the coordinator's (reading and
/// summing the chunks, the run's record, the outer step, publishing the next weights).
/// </summary>
public sealed record TrainScaleRoundCosts(double Wait, double Fetch, double PseudoGradient, double ChunkWrite, double StateSave,
    double ReadAndAverage, double Record, double OuterStep, double Publish)
{
    internal string Line() => FormattableString.Invariant(
        $"replica wait_s={Wait:F2} fetch_s={Fetch:F2} pseudo_gradient_s={PseudoGradient:F2} chunk_write_s={ChunkWrite:F2} state_save_s={StateSave:F2}; coordinator read_average_s={ReadAndAverage:F2} record_s={Record:F2} outer_step_s={OuterStep:F2} publish_s={Publish:F2}");
}

/// <summary>One benchmark round: one trainer's run and the two trainers' run, in the order <paramref name="OneFirst"/> says.</summary>
public sealed record TrainScaleRound(TrainScaleMeasurement One, TrainScaleMeasurement Two, bool OneFirst);

/// <summary>
/// What `platform bench train-scale` measured, round by round; the figures are the medians over the rounds, which alternate
/// which configuration goes first, so that a burst of load on a shared machine lands on one round rather than on the ratio.
/// </summary>
public sealed record TrainScaleBenchmarkResult(TrainScaleSettings Settings, TrainScaleMode Mode, IReadOnlyList<TrainScaleRound> Rounds, string? DataNote = null)
{
    public double OneTokensPerSecond => BenchmarkStatistics.Median(Rounds.Select(r => r.One.TokensPerSecond));
    public double TwoTokensPerSecond => BenchmarkStatistics.Median(Rounds.Select(r => r.Two.TokensPerSecond));

    /// <summary>Two trainers' tokens per second over twice one trainer's: 1 is perfect scaling.</summary>
    public double ScaleEfficiency => TwoTokensPerSecond / (2 * OneTokensPerSecond);

    /// <summary>The silos the two-trainer runs' replicas ran on, by rank, over every round.</summary>
    public IReadOnlyList<string> TwoTrainerSilos => [.. Rounds.SelectMany(r => r.Two.Silos).Distinct()];

    public IEnumerable<string> Lines()
    {
        var s = Settings;
        string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
        yield return F($"run mode={Mode.ToString().ToLowerInvariant()} preset={s.Preset} samples_per_step={s.SamplesPerStep} sync_every={s.SyncEvery} sync_rounds={s.SyncRounds} warmup_steps={s.WarmupSteps} threads_per_trainer=1 seed={s.Seed} rounds={s.Rounds}{DataNote}");
        yield return Mode == TrainScaleMode.Silos
            ? "trainers: grains through the training scheduler on two in-process silos of one CPU device each; two trainers are a DiLoCo run (K=2), one trainer a plain run"
            : "trainers: in-process DiLoCo replicas on their own threads, no silos (the averaging and outer step are timed in the window)";
        for (var i = 0; i < Rounds.Count; i++)
        {
            var round = Rounds[i];
            foreach (var m in round.OneFirst ? new[] { round.One, round.Two } : [round.Two, round.One])
            {
                yield return F($"round {i + 1} {m.Line()}");
                if (m.Costs is { } costs) yield return F($"round {i + 1} trainers={m.Trainers} outside the steps: {costs.Line()}");
            }
        }
        foreach (var (rank, silo) in Rounds[^1].Two.Silos.Select((silo, rank) => (rank, silo)))
            yield return F($"two-trainer replica {rank} ran on {silo}");
        yield return F($"medians over {Rounds.Count} round(s):");
        yield return F($"trainers=1 tokens/s={OneTokensPerSecond:F0} outside_steps_s={BenchmarkStatistics.Median(Rounds.Select(r => r.One.OutsideStepsSeconds)):F2}");
        yield return F($"trainers=2 tokens/s={TwoTokensPerSecond:F0} outside_steps_s={BenchmarkStatistics.Median(Rounds.Select(r => r.Two.OutsideStepsSeconds)):F2}") +
            (Rounds.All(r => r.Two.BarrierSeconds is not null) ? F($" barrier_s={BenchmarkStatistics.Median(Rounds.Select(r => r.Two.BarrierSeconds!.Value)):F2}") : "");
        if (Rounds.All(r => r.One.TokensPerCpuSecond is not null && r.Two.TokensPerCpuSecond is not null))
        {
            double one = BenchmarkStatistics.Median(Rounds.Select(r => r.One.TokensPerCpuSecond!.Value));
            double two = BenchmarkStatistics.Median(Rounds.Select(r => r.Two.TokensPerCpuSecond!.Value));
            // Not the figure: a machine whose cores other work takes gives two trainers less than two cores, which this ratio leaves out.
            yield return F($"tokens_per_cpu_s trainers=1 {one:F0} trainers=2 {two:F0} ratio={two / one:F3}");
        }
        yield return F($"scale_efficiency={ScaleEfficiency:F3}");
    }
}

/// <summary>
/// `platform bench train-scale --mode threads`: one trainer alone, then two DiLoCo replicas in this process (the same replica,
/// averaging and outer-step code the replica grains run) on threads of their own, with libtorch limited to one thread, so that
/// two fit a two-core machine; what the silo mode adds (scheduler, grains, exchange through files) is left out. Samples are
/// synthetic (random pixels and token ids), as in <see cref="TrainingBenchmark"/>.
/// </summary>
public static class TrainScaleBenchmark
{
    public static TrainScaleBenchmarkResult Run(TrainScaleSettings settings, SimVlmConfig? config = null)
    {
        settings.Validate();
        config ??= SimVlmConfig.Preset(settings.Preset);
        // Process-wide: each replica's thread then computes its own operations on one core, as a trainer limited to one thread would.
        set_num_threads(1);
        using var cpu = new ProcessCpuSampler();
        var rounds = new List<TrainScaleRound>();
        for (int round = 0; round < settings.Rounds; round++)
        {
            bool oneFirst = round % 2 == 0;
            var first = Measure(config, settings, trainers: oneFirst ? 1 : 2, cpu);
            var second = Measure(config, settings, trainers: oneFirst ? 2 : 1, cpu);
            rounds.Add(oneFirst ? new TrainScaleRound(first, second, true) : new TrainScaleRound(second, first, false));
        }
        return new TrainScaleBenchmarkResult(settings, TrainScaleMode.Threads, rounds);
    }

    private static TrainScaleMeasurement Measure(SimVlmConfig config, TrainScaleSettings settings, int trainers, ProcessCpuSampler cpu)
    {
        var tokenizer = TextTokenizer.BuildGpt2([], SpecialTokens.Count + 1); // vocabulary ids are synthetic
        int totalSteps = settings.WarmupSteps + settings.MeasuredSteps;
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
            if (settings.WarmupSteps > 0) RunOnThreads(replicas, replica => replica.RunRound(-1, outer.Weights, settings.WarmupSteps, "fp32", 1 << 20));
            long tokens = 0;
            double firstTrainerStepSeconds = 0;
            var from = DateTimeOffset.UtcNow;
            var clock = Stopwatch.StartNew();
            for (int round = 0; round < settings.SyncRounds; round++)
            {
                var start = outer.Weights;
                var done = RunOnThreads(replicas, replica => replica.RunRound(round, start, settings.SyncEvery, "fp32", 1 << 20));
                var averager = new PseudoGradientAverager(start);
                foreach (var replicaRound in done)
                    foreach (byte[] chunk in replicaRound.Chunks) averager.Add(replicaRound.Rank, chunk);
                outer.Step(averager.Average());
                tokens += done.Sum(r => r.Steps.Sum(s => s.ModelTokens));
                firstTrainerStepSeconds += done[0].Steps.Sum(s => s.StepSeconds);
            }
            double seconds = clock.Elapsed.TotalSeconds;
            return new TrainScaleMeasurement(trainers, tokens, seconds, seconds - firstTrainerStepSeconds, null, cpu.Use(from, DateTimeOffset.UtcNow),
                [.. Enumerable.Repeat("this process", trainers)]);
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
