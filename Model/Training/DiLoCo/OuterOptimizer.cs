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
    /// Publishes only the weights of <see cref="Round"/> in <paramref name="folder"/> (the file <see cref="ReadWeightsAsync"/>
    /// reads), for the replicas to start the round from: a round at which the run does not checkpoint needs no more, and its
    /// <c>latest</c> keeps naming the last state saved whole.
    /// </summary>
    public Task PublishWeightsAsync(DiLoCoExchange exchange, string folder, CancellationToken cancellationToken) =>
        exchange.PutAsync($"{DiLoCoExchange.In(folder, Checkpoint.FolderName(Round))}/{WeightsFile}", stream => WriteArrays(stream, weights), cancellationToken);

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

    /// <summary>The global weights saved for <paramref name="round"/> in <paramref name="folder"/>: what replicas start that round from. Read as the file streams in.</summary>
    public static Task<IReadOnlyList<NamedArray>> ReadWeightsAsync(DiLoCoExchange exchange, string folder, int round, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            using var stream = exchange.OpenRead($"{DiLoCoExchange.In(folder, Checkpoint.FolderName(round))}/{WeightsFile}")
                ?? throw new FileNotFoundException($"{exchange.Location}: the outer weights of round {round} are missing from {folder}.");
            return ReadArrays(stream, WeightsFile);
        }, cancellationToken);

    /// <summary>
    /// Deletes the saved states (and published weights) of rounds before <paramref name="round"/>, except that of
    /// <paramref name="keep"/>: a run resumes from its newest state saved whole.
    /// </summary>
    public static Task DeleteBeforeAsync(DiLoCoExchange exchange, string folder, int round, CancellationToken cancellationToken, int? keep = null) =>
        exchange.DeleteStatesBeforeAsync(folder, round, cancellationToken, keep);

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
        using var stream = new MemoryStream(content, writable: false);
        return ReadArrays(stream, file);
    }

    /// <summary>The arrays of a file <see cref="WriteArrays"/> wrote, its chunks read one by one as they come.</summary>
    private static IReadOnlyList<NamedArray> ReadArrays(Stream stream, string file)
    {
        var chunks = new List<byte[]>();
        Span<byte> length = stackalloc byte[sizeof(int)];
        while (true)
        {
            int read = stream.ReadAtLeast(length, length.Length, throwOnEndOfStream: false);
            if (read == 0) break;
            if (read < length.Length) throw new InvalidDataException($"{file} is cut short.");
            int size = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(length);
            if (size < 0) throw new InvalidDataException($"{file} holds a chunk of negative length.");
            var chunk = new byte[size];
            if (stream.ReadAtLeast(chunk, size, throwOnEndOfStream: false) != size) throw new InvalidDataException($"{file} is cut short.");
            chunks.Add(chunk);
        }
        return WeightChunks.Assemble(chunks);
    }
}
