namespace Platform.Model;

/// <summary>
/// SplitMix64: a small random generator whose whole state is one number, so a training run can save
/// it in a checkpoint and resume drawing exactly where it stopped (System.Random cannot be saved).
/// </summary>
public sealed class DeterministicRandom(ulong state)
{
    /// <summary>The complete generator state; assigning it restores a saved stream.</summary>
    public ulong State { get; set; } = state;

    public ulong NextUInt64()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform integer in [minInclusive, maxExclusive).</summary>
    public int Next(int minInclusive, int maxExclusive)
    {
        if (maxExclusive <= minInclusive) throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"Empty range [{minInclusive}, {maxExclusive}).");
        ulong range = (ulong)((long)maxExclusive - minInclusive);
        // Rejection sampling keeps every value equally likely.
        ulong limit = ulong.MaxValue - ulong.MaxValue % range;
        ulong draw;
        do draw = NextUInt64(); while (draw >= limit);
        return (int)(minInclusive + (long)(draw % range));
    }

    /// <summary>Uniform double in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
