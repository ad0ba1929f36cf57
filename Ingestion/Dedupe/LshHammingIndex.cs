using System.Numerics;

namespace Platform.Ingestion.Dedupe;

/// <summary>
/// Band index over 64-bit hashes. The hash is cut into <c>MaxDistance + 1</c> bands by default: two hashes
/// within distance d differ in at most d bands, so by the pigeonhole principle they agree exactly on at
/// least one, and looking up each band's bucket finds every true neighbour (no false negatives). Candidates
/// from the buckets are confirmed by their true Hamming distance. Thread-safe.
/// </summary>
public sealed class LshHammingIndex : INearDuplicateImageIndex
{
    private readonly (int Shift, ulong Mask)[] _bands;
    private readonly Dictionary<ulong, List<ulong>>[] _buckets;
    private readonly Lock _lock = new();

    public LshHammingIndex(int maxDistance, int? bands = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDistance);
        var bandCount = bands ?? maxDistance + 1;
        if (bandCount <= maxDistance)
            throw new ArgumentException($"{bandCount} bands cannot guarantee recall at distance {maxDistance}", nameof(bands));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bandCount, 64, nameof(bands));
        MaxDistance = maxDistance;
        _bands = new (int, ulong)[bandCount];
        var shift = 0;
        for (var b = 0; b < bandCount; b++)
        {
            var width = 64 / bandCount + (b < 64 % bandCount ? 1 : 0);
            _bands[b] = (shift, width == 64 ? ulong.MaxValue : (1UL << width) - 1);
            shift += width;
        }
        _buckets = [.. Enumerable.Range(0, bandCount).Select(_ => new Dictionary<ulong, List<ulong>>())];
    }

    public int MaxDistance { get; }

    public int Count { get; private set; }

    public ValueTask<ulong?> FindAsync(ulong hash, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Find(hash));

    public ValueTask AddAsync(ulong hash, CancellationToken cancellationToken = default)
    {
        Add(hash);
        return ValueTask.CompletedTask;
    }

    public ulong? Find(ulong hash)
    {
        lock (_lock)
        {
            for (var b = 0; b < _bands.Length; b++)
            {
                if (!_buckets[b].TryGetValue(BandValue(hash, b), out var bucket)) continue;
                foreach (var stored in bucket)
                    if (BitOperations.PopCount(stored ^ hash) <= MaxDistance) return stored;
            }
            return null;
        }
    }

    public void Add(ulong hash)
    {
        lock (_lock)
        {
            for (var b = 0; b < _bands.Length; b++)
            {
                var key = BandValue(hash, b);
                if (!_buckets[b].TryGetValue(key, out var bucket)) _buckets[b][key] = bucket = [];
                bucket.Add(hash);
            }
            Count++;
        }
    }

    private ulong BandValue(ulong hash, int band) => (hash >> _bands[band].Shift) & _bands[band].Mask;
}
