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

    /// <summary>Saves weights, momentum and round as a checkpoint folder of <paramref name="directory"/> (published atomically, see <see cref="Checkpoint.Save"/>).</summary>
    public string Save(string directory) =>
        Checkpoint.Save(directory, Round, folder =>
        {
            WriteArrays(Path.Combine(folder, WeightsFile), weights);
            WriteArrays(Path.Combine(folder, MomentumFile), momentum);
            File.WriteAllText(Path.Combine(folder, StateFile), JsonSerializer.Serialize(new SavedState(Round, LearningRate, Momentum), Checkpoint.Json));
        });

    /// <summary>
    /// The newest outer state saved in <paramref name="directory"/>, or null when none was. A writer may save a newer state
    /// and delete the one being read meanwhile (a coordinator's old activation still finishing a round while a new one
    /// loads): a state that vanishes while it is read is looked up again.
    /// </summary>
    public static OuterOptimizer? LoadLatest(string directory)
    {
        const int attempts = 10;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return LoadNewest(directory);
            }
            catch (Exception e) when (attempt < attempts && e is FileNotFoundException or DirectoryNotFoundException)
            {
                Thread.Sleep(50 * attempt);
            }
        }
    }

    private static OuterOptimizer? LoadNewest(string directory)
    {
        if (!Directory.Exists(directory)) return null;
        var folders = Checkpoint.NewestFirst(directory);
        if (folders.Count == 0) return null;
        string folder = folders[0];
        // Every file is opened before any is read: an open file stays readable when a writer deletes it, so the window
        // in which a deletion fails the load shrinks to the moment between listing and opening.
        using var stateFile = OpenShared(Path.Combine(folder, StateFile));
        using var weightsFile = OpenShared(Path.Combine(folder, WeightsFile));
        using var momentumFile = OpenShared(Path.Combine(folder, MomentumFile));
        var state = JsonSerializer.Deserialize<SavedState>(stateFile, Checkpoint.Json)
            ?? throw new InvalidDataException($"{Path.Combine(folder, StateFile)} is empty.");
        return new OuterOptimizer(ReadArrays(weightsFile, Path.Combine(folder, WeightsFile)), ReadArrays(momentumFile, Path.Combine(folder, MomentumFile)),
            state.LearningRate, state.Momentum, state.Round);
    }

    /// <summary>Open for reading while another process may delete it (the deleter must not fail where a platform locks open files).</summary>
    private static FileStream OpenShared(string file) =>
        new(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>The global weights saved for <paramref name="round"/> in <paramref name="directory"/>: what replicas start that round from.</summary>
    public static IReadOnlyList<NamedArray> ReadWeights(string directory, int round) =>
        ReadArrays(Path.Combine(directory, Checkpoint.FolderName(round), WeightsFile));

    /// <summary>Deletes the saved states of rounds before <paramref name="round"/>: a run resumes from its newest.</summary>
    public static void DeleteBefore(string directory, int round)
    {
        if (!Directory.Exists(directory)) return;
        foreach (string folder in Directory.GetDirectories(directory, "step-*"))
            if (int.TryParse(Path.GetFileName(folder).AsSpan("step-".Length), out int saved) && saved < round)
                Directory.Delete(folder, recursive: true);
    }

    private sealed record SavedState(int Round, double LearningRate, double Momentum);

    private static void WriteArrays(string file, IReadOnlyList<NamedArray> arrays)
    {
        using var writer = new BinaryWriter(File.Create(file));
        foreach (byte[] chunk in WeightChunks.Split(arrays, SyncPrecisions.Fp32, FileChunkBytes))
        {
            writer.Write(chunk.Length);
            writer.Write(chunk);
        }
    }

    private static IReadOnlyList<NamedArray> ReadArrays(string file)
    {
        using var stream = File.OpenRead(file);
        return ReadArrays(stream, file);
    }

    private static IReadOnlyList<NamedArray> ReadArrays(Stream stream, string file)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
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
