namespace Platform.Model.Training.DiLoCo;

/// <summary>What one replica did in one round.</summary>
public sealed record ReplicaRound(int Rank, int Round, IReadOnlyList<StepMetrics> Steps, IReadOnlyList<byte[]> Chunks)
{
    public long Bytes => Chunks.Sum(c => (long)c.Length);
}

/// <summary>
/// One DiLoCo replica around an ordinary trainer: it starts a round from the global weights, takes its
/// local steps with the trainer's own optimiser (whose moments persist from round to round, as in the
/// paper), and hands back its pseudo-gradient in chunks. The trainer itself is unchanged.
/// </summary>
public sealed class DiLoCoReplica(SimVlmTrainer trainer, int rank)
{
    public SimVlmTrainer Trainer { get; } = trainer;
    public int Rank { get; } = rank;

    /// <summary>Runs <paramref name="steps"/> local steps from <paramref name="globalWeights"/>; call on one thread, as <see cref="SimVlmTrainer.TrainSteps"/> requires.</summary>
    public ReplicaRound RunRound(int round, IReadOnlyList<NamedArray> globalWeights, int steps, string precision, int maxChunkBytes, CancellationToken cancellationToken = default)
    {
        NamedWeights.Write(Trainer.Model, globalWeights);
        var metrics = Trainer.TrainSteps(steps, cancellationToken).ToList();
        var pseudoGradient = NamedWeights.PseudoGradient(globalWeights, NamedWeights.Read(Trainer.Model));
        return new ReplicaRound(Rank, round, metrics, WeightChunks.Split(pseudoGradient, precision, maxChunkBytes).ToArray());
    }
}

/// <summary>What one outer round did: every replica's steps, the bytes sent up, and the mean local loss.</summary>
public sealed record OuterRound(int Round, IReadOnlyList<ReplicaRound> Replicas, long BytesUp, long BytesDown)
{
    public double MeanLoss => Replicas.SelectMany(r => r.Steps).Average(s => s.Loss);
}

/// <summary>
/// DiLoCo with every replica in this process, taking its turn: the algorithm end to end without a
/// cluster (tests and benchmarks compare it with plain training). The cluster runs the same pieces
/// (replica round, chunks, averager, outer step) in separate trainer grains.
/// </summary>
public sealed class InProcessDiLoCo
{
    private readonly IReadOnlyList<DiLoCoReplica> replicas;
    private readonly DiLoCoOptions options;
    private readonly int maxChunkBytes;

    public InProcessDiLoCo(IReadOnlyList<SimVlmTrainer> trainers, DiLoCoOptions options, int maxChunkBytes = 1 << 20)
    {
        this.options = options.Validate();
        if (trainers.Count != options.Trainers) throw new ArgumentException($"{options.Trainers} trainers were asked for, {trainers.Count} given.");
        replicas = trainers.Select((trainer, rank) => new DiLoCoReplica(trainer, rank)).ToArray();
        this.maxChunkBytes = maxChunkBytes;
        // Every replica starts from the first one's weights, whatever its own initialisation drew.
        Outer = new OuterOptimizer(NamedWeights.Read(trainers[0].Model), options.OuterLearningRate, options.OuterMomentum);
    }

    private InProcessDiLoCo(IReadOnlyList<SimVlmTrainer> trainers, DiLoCoOptions options, OuterOptimizer outer, int maxChunkBytes)
        : this(trainers, options, maxChunkBytes)
    {
        Outer = outer;
    }

    public OuterOptimizer Outer { get; }

    public IReadOnlyList<SimVlmTrainer> Trainers => replicas.Select(r => r.Trainer).ToArray();

    /// <summary>
    /// Saves the run at its round boundary into <paramref name="exchange"/> as the cluster does: the outer state (weights,
    /// momentum, round) and every replica's inner state, so that <see cref="ResumeAsync"/> goes on exactly as this run would.
    /// </summary>
    public async Task SaveAsync(DiLoCoExchange exchange, CancellationToken cancellationToken = default)
    {
        await Outer.SaveAsync(exchange, DiLoCoExchange.OuterFolder, cancellationToken);
        string scratch = Path.Combine(Path.GetTempPath(), $"diloco-save-{Guid.NewGuid():N}");
        try
        {
            foreach (var replica in replicas)
                await ReplicaCheckpoints.SaveAsync(replica.Trainer, exchange, replica.Rank, Outer.Round, scratch, cancellationToken);
        }
        finally
        {
            LocalScratch.TryDelete(scratch);
        }
    }

    /// <summary>
    /// The run <see cref="SaveAsync"/> left in <paramref name="exchange"/>, its replicas' trainers resumed on the data
    /// <paramref name="dataOf"/> gives each rank (the same data the saved run had, whose cursor the state restores).
    /// </summary>
    public static async Task<InProcessDiLoCo> ResumeAsync(DiLoCoExchange exchange, DiLoCoOptions options, TrainingOptions trainingOptions, Func<int, IPrefixLmData> dataOf,
        int maxChunkBytes = 1 << 20, CancellationToken cancellationToken = default)
    {
        var outer = await OuterOptimizer.LoadLatestAsync(exchange, DiLoCoExchange.OuterFolder, cancellationToken)
            ?? throw new InvalidOperationException($"{exchange.Location} holds no outer state.");
        var trainers = new List<SimVlmTrainer>();
        string scratch = Path.Combine(Path.GetTempPath(), $"diloco-resume-{Guid.NewGuid():N}");
        try
        {
            for (int rank = 0; rank < options.Trainers; rank++)
                trainers.Add(await ReplicaCheckpoints.TryResumeAsync(exchange, rank, outer.Round, dataOf(rank), trainingOptions, scratch, cancellationToken)
                    ?? throw new InvalidOperationException($"{exchange.Location} holds no state of replica {rank} for round {outer.Round}."));
            return new InProcessDiLoCo(trainers, options, outer, maxChunkBytes);
        }
        catch
        {
            foreach (var trainer in trainers) trainer.Dispose();
            throw;
        }
        finally
        {
            LocalScratch.TryDelete(scratch);
        }
    }

    public OuterRound RunRound()
    {
        var start = Outer.Weights;
        var averager = new PseudoGradientAverager(start);
        var rounds = new List<ReplicaRound>();
        foreach (var replica in replicas)
        {
            var done = replica.RunRound(Outer.Round, start, options.SyncEvery, options.SyncPrecision, maxChunkBytes);
            foreach (byte[] chunk in done.Chunks) averager.Add(replica.Rank, chunk);
            rounds.Add(done);
        }
        int round = Outer.Round;
        Outer.Step(averager.Average());
        long weightBytes = NamedWeights.Count(start) * sizeof(float);
        return new OuterRound(round, rounds, averager.BytesReceived, weightBytes * replicas.Count);
    }

    /// <summary>Writes the global weights into every replica's model (e.g. before reading or saving the result).</summary>
    public void PublishWeights()
    {
        foreach (var replica in replicas) NamedWeights.Write(replica.Trainer.Model, Outer.Weights);
    }
}
