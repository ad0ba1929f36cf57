using System.Text.Json;

namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// DiLoCo's outer optimiser: SGD with Nesterov momentum applied to the averaged pseudo-gradient, as
/// PyTorch's SGD(nesterov=True) does it (buffer = μ·buffer + g; weights −= lr·(g + μ·buffer)). It holds
/// the run's global weights, the momentum buffer and the round number: the outer state a checkpoint saves.
/// </summary>
public sealed class OuterOptimizer
{
    private const string StateFile = "outer.json";
    private const string WeightsFile = "weights.bin";
    private const string MomentumFile = "momentum.bin";
    private const int FileChunkBytes = 64 << 20;

    private readonly NamedArray[] weights;
    private readonly NamedArray[] momentum;

    public OuterOptimizer(IReadOnlyList<NamedArray> initialWeights, double learningRate, double momentumFactor)
        : this(NamedWeights.Clone(initialWeights), initialWeights.Select(w => new NamedArray(w.Name, new float[w.Values.Length])).ToArray(), learningRate, momentumFactor, 0)
    {
    }

    private OuterOptimizer(IReadOnlyList<NamedArray> weights, IReadOnlyList<NamedArray> momentum, double learningRate, double momentumFactor, int round)
    {
        if (!(learningRate > 0)) throw new ArgumentException($"The outer learning rate must be positive (got {learningRate}).");
        if (!(momentumFactor >= 0 && momentumFactor < 1)) throw new ArgumentException($"The outer momentum must be in [0, 1) (got {momentumFactor}).");
        this.weights = [.. weights];
        this.momentum = [.. momentum];
        LearningRate = learningRate;
        Momentum = momentumFactor;
        Round = round;
    }

    public double LearningRate { get; }
    public double Momentum { get; }

    /// <summary>Outer steps taken: the round the replicas start next.</summary>
    public int Round { get; private set; }

    /// <summary>The global weights every replica starts the next round from.</summary>
    public IReadOnlyList<NamedArray> Weights => weights;

    public IReadOnlyList<NamedArray> MomentumBuffer => momentum;

    /// <summary>One outer step with the replicas' mean pseudo-gradient; the round number advances.</summary>
    public void Step(IReadOnlyList<NamedArray> averagePseudoGradient)
    {
        if (averagePseudoGradient.Count != weights.Length) throw new ArgumentException("The pseudo-gradient holds other parameters than the weights.");
        float lr = (float)LearningRate, mu = (float)Momentum;
        for (int p = 0; p < weights.Length; p++)
        {
            var g = averagePseudoGradient[p];
            if (g.Name != weights[p].Name || g.Values.Length != weights[p].Values.Length) throw new ArgumentException($"Pseudo-gradient '{g.Name}' does not match weights '{weights[p].Name}'.");
            float[] w = weights[p].Values, buffer = momentum[p].Values, grad = g.Values;
            for (int i = 0; i < w.Length; i++)
            {
                buffer[i] = mu * buffer[i] + grad[i];
                w[i] -= lr * (grad[i] + mu * buffer[i]);
            }
        }
        Round++;
    }

    /// <summary>
    /// Saves weights, momentum and round as the state folder <c>step-R</c> of <paramref name="folder"/> in the exchange, named
    /// by its <c>latest</c> once complete (see <see cref="DiLoCoExchange.PutStateAsync"/>).
    /// </summary>
    public Task SaveAsync(DiLoCoExchange exchange, string folder, CancellationToken cancellationToken) =>
        exchange.PutStateAsync(folder, Round,
        [
            (WeightsFile, stream => WriteArrays(stream, weights)),
            (MomentumFile, stream => WriteArrays(stream, momentum)),
            (StateFile, stream => JsonSerializer.Serialize(stream, new SavedState(Round, LearningRate, Momentum), Checkpoint.Json)),
        ], cancellationToken);

    /// <summary>
    /// The newest outer state saved in <paramref name="folder"/> of the exchange, or null when none was. A writer may save a
    /// newer state and delete the one being read meanwhile (a coordinator's old activation still finishing a round while a new
    /// one loads): a state that vanishes while it is read is looked up again.
    /// </summary>
    public static async Task<OuterOptimizer?> LoadLatestAsync(DiLoCoExchange exchange, string folder, CancellationToken cancellationToken)
    {
        const int attempts = 10;
        for (int attempt = 1; ; attempt++)
        {
            if (await exchange.LatestStepAsync(folder, cancellationToken) is not int round) return null;
            var state = await exchange.GetStateFileAsync(folder, round, StateFile, cancellationToken);
            var weights = state is null ? null : await exchange.GetStateFileAsync(folder, round, WeightsFile, cancellationToken);
            var momentum = weights is null ? null : await exchange.GetStateFileAsync(folder, round, MomentumFile, cancellationToken);
            if (momentum is not null)
            {
                var saved = JsonSerializer.Deserialize<SavedState>(state, Checkpoint.Json)
                    ?? throw new InvalidDataException($"{exchange.Location}: {DiLoCoExchange.In(folder, Checkpoint.FolderName(round))}/{StateFile} is empty.");
                return new OuterOptimizer(ReadArrays(weights!, WeightsFile), ReadArrays(momentum, MomentumFile), saved.LearningRate, saved.Momentum, saved.Round);
            }
            if (attempt == attempts)
                throw new FileNotFoundException($"{exchange.Location}: the outer state {DiLoCoExchange.In(folder, Checkpoint.FolderName(round))} kept vanishing while it was read.");
            await Task.Delay(50 * attempt, cancellationToken);
        }
    }

    /// <summary>As <see cref="LoadLatestAsync"/>, for a state saved in a folder of this machine.</summary>
    public static Task<OuterOptimizer?> LoadLatestAsync(string directory) => LoadLatestAsync(DiLoCoExchange.InFolder(directory), "", CancellationToken.None);

    /// <summary>The global weights saved for <paramref name="round"/> in <paramref name="folder"/>: what replicas start that round from.</summary>
    public static async Task<IReadOnlyList<NamedArray>> ReadWeightsAsync(DiLoCoExchange exchange, string folder, int round, CancellationToken cancellationToken) =>
        ReadArrays(await exchange.GetStateFileAsync(folder, round, WeightsFile, cancellationToken)
            ?? throw new FileNotFoundException($"{exchange.Location}: the outer weights of round {round} are missing from {folder}."), WeightsFile);

    /// <summary>Deletes the saved states of rounds before <paramref name="round"/>: a run resumes from its newest.</summary>
    public static Task DeleteBeforeAsync(DiLoCoExchange exchange, string folder, int round, CancellationToken cancellationToken) =>
        exchange.DeleteStatesBeforeAsync(folder, round, cancellationToken);

    private sealed record SavedState(int Round, double LearningRate, double Momentum);

    private static void WriteArrays(Stream stream, IReadOnlyList<NamedArray> arrays)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        foreach (byte[] chunk in WeightChunks.Split(arrays, SyncPrecisions.Fp32, FileChunkBytes))
        {
            writer.Write(chunk.Length);
            writer.Write(chunk);
        }
    }

    private static IReadOnlyList<NamedArray> ReadArrays(byte[] content, string file)
    {
        using var reader = new BinaryReader(new MemoryStream(content), System.Text.Encoding.UTF8);
        var chunks = new List<byte[]>();
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            int length = reader.ReadInt32();
            var chunk = reader.ReadBytes(length);
            if (chunk.Length != length) throw new InvalidDataException($"{file} is cut short.");
            chunks.Add(chunk);
        }
        return WeightChunks.Assemble(chunks);
    }
}
