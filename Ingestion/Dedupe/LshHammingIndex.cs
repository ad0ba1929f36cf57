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
    private readonly HammingBands _bands;
    private readonly Dictionary<ulong, List<ulong>>[] _buckets;
    private readonly Lock _lock = new();

    public LshHammingIndex(int maxDistance, int? bands = null)
    {
        _bands = new HammingBands(maxDistance, bands);
        MaxDistance = maxDistance;
        _buckets = [.. Enumerable.Range(0, _bands.Count).Select(_ => new Dictionary<ulong, List<ulong>>())];
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
            for (var b = 0; b < _bands.Count; b++)
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
            for (var b = 0; b < _bands.Count; b++)
            {
                var key = BandValue(hash, b);
                if (!_buckets[b].TryGetValue(key, out var bucket)) _buckets[b][key] = bucket = [];
                bucket.Add(hash);
            }
            Count++;
        }
    }

    private ulong BandValue(ulong hash, int band) => _bands.Value(hash, band);
}
