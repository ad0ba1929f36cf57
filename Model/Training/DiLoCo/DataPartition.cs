namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// Which part of the data each replica trains on in each round, decided by rank and round alone so that
/// any silo computes the same answer and a replacement replica takes over its rank's parts. The data is
/// cut into <see cref="PartCount"/> parts; every epoch visits them in a fresh seeded order, and the
/// replicas of a round take consecutive places in that order (round r, rank k: place r·K + k). Within
/// one epoch no part is given out twice, so no sample is trained by two replicas; a part whose replica
/// was lost in its round is simply not trained that epoch.
/// </summary>
public sealed class DataPartition
{
    private readonly ulong seed;
    private int cachedEpoch = -1;
    private int[] cachedOrder = [];

    public DataPartition(int partCount, ulong seed)
    {
        if (partCount < 1) throw new ArgumentOutOfRangeException(nameof(partCount), "The data needs at least one part.");
        PartCount = partCount;
        this.seed = seed;
    }

    public int PartCount { get; }

    /// <summary>The epoch and part that replica <paramref name="rank"/> of <paramref name="replicas"/> trains on in <paramref name="round"/>.</summary>
    public (int Epoch, int Part) PartFor(int round, int rank, int replicas)
    {
        if (replicas < 1 || rank < 0 || rank >= replicas) throw new ArgumentOutOfRangeException(nameof(rank), $"Rank {rank} is not one of {replicas} replicas.");
        if (round < 0) throw new ArgumentOutOfRangeException(nameof(round));
        long place = (long)round * replicas + rank;
        int epoch = checked((int)(place / PartCount));
        return (epoch, Order(epoch)[(int)(place % PartCount)]);
    }

    /// <summary>The order in which <paramref name="epoch"/> visits the parts: a seeded permutation.</summary>
    public IReadOnlyList<int> Order(int epoch)
    {
        if (epoch == cachedEpoch) return cachedOrder;
        var random = new DeterministicRandom(seed ^ ((ulong)epoch + 1) * 0xD1B54A32D192ED03UL);
        int[] order = Enumerable.Range(0, PartCount).ToArray();
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.Next(0, i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        (cachedEpoch, cachedOrder) = (epoch, order);
        return order;
    }

    /// <summary>Whether sample <paramref name="sample"/> of a data set belongs to <paramref name="part"/>: samples are dealt round-robin.</summary>
    public bool Holds(int part, long sample) => sample % PartCount == part;
}
