namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// The mean of the replicas' pseudo-gradients of one round, summed chunk by chunk as the chunks arrive
/// so that the coordinator holds one model's worth of numbers however many replicas report. A chunk
/// delivered twice (an upload or a notification retried) is counted once. Only replicas whose every
/// value arrived take part in the mean: the round goes on without a replica that was lost.
/// </summary>
public sealed class PseudoGradientAverager
{
    private readonly Dictionary<string, int> indexOf;
    private readonly float[][] sums;
    private readonly long totalValues;
    private readonly Dictionary<int, Contribution> contributions = [];

    private sealed class Contribution
    {
        public readonly HashSet<(string Name, long Offset)> Pieces = [];
        public long Values;
    }

    /// <param name="template">Names and lengths of the arrays (the round's start weights will do); values are ignored.</param>
    public PseudoGradientAverager(IReadOnlyList<NamedArray> template)
    {
        Names = template.Select(t => t.Name).ToArray();
        indexOf = Names.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i);
        sums = template.Select(t => new float[t.Values.Length]).ToArray();
        totalValues = NamedWeights.Count(template);
    }

    public IReadOnlyList<string> Names { get; }

    /// <summary>Bytes of chunks folded in (duplicates not counted): what the round communicated upwards.</summary>
    public long BytesReceived { get; private set; }

    /// <summary>Replicas every one of whose values arrived.</summary>
    public IReadOnlyList<int> CompleteReplicas => contributions.Where(c => c.Value.Values == totalValues).Select(c => c.Key).Order().ToArray();

    /// <summary>Folds one chunk of <paramref name="replica"/>'s pseudo-gradient in; true when that replica is now complete.</summary>
    public bool Add(int replica, byte[] chunk)
    {
        var pieces = WeightChunks.Read(chunk);
        foreach (var piece in pieces)
        {
            if (!indexOf.TryGetValue(piece.Name, out int index)) throw new InvalidDataException($"Replica {replica} sent '{piece.Name}', which the model does not have.");
            if (piece.TotalLength != sums[index].Length) throw new InvalidDataException($"Replica {replica} sent '{piece.Name}' with {piece.TotalLength} values; the model's has {sums[index].Length}.");
        }
        if (!contributions.TryGetValue(replica, out var contribution)) contributions[replica] = contribution = new Contribution();
        bool any = false;
        foreach (var piece in pieces)
        {
            if (!contribution.Pieces.Add((piece.Name, piece.Offset))) continue;
            any = true;
            var sum = sums[indexOf[piece.Name]];
            for (int i = 0; i < piece.Values.Length; i++) sum[piece.Offset + i] += piece.Values[i];
            contribution.Values += piece.Values.Length;
        }
        if (any) BytesReceived += chunk.Length;
        return contribution.Values == totalValues;
    }

    /// <summary>The mean over the complete replicas; throws when none is complete or one has sent only part of its values.</summary>
    public IReadOnlyList<NamedArray> Average()
    {
        var incomplete = contributions.Where(c => c.Value.Values != totalValues).Select(c => c.Key).ToArray();
        if (incomplete.Length > 0) throw new InvalidOperationException($"Replica(s) {string.Join(", ", incomplete)} sent only part of their pseudo-gradient.");
        int count = contributions.Count;
        if (count == 0) throw new InvalidOperationException("No replica sent its pseudo-gradient.");
        return Names.Select((name, i) =>
        {
            var mean = new float[sums[i].Length];
            for (int v = 0; v < mean.Length; v++) mean[v] = sums[i][v] / count;
            return new NamedArray(name, mean);
        }).ToArray();
    }
}
