using System.Numerics;

namespace Platform.Ingestion.Dedupe;

/// <summary>Earliest claimant per exact key, held in this process; thread-safe.</summary>
public sealed class InProcessKeyClaims : IKeyClaims
{
    private readonly Dictionary<UInt128, long> _first = [];
    private readonly Lock _lock = new();

    public ValueTask ClaimAsync(IReadOnlyList<KeyClaim> claims, CancellationToken cancellationToken = default)
    {
        lock (_lock)
            foreach (var (key, position) in claims)
                if (!_first.TryGetValue(key, out var known) || position < known) _first[key] = position;
        return ValueTask.CompletedTask;
    }

    public ValueTask<long[]> FirstClaimsAsync(IReadOnlyList<UInt128> keys, CancellationToken cancellationToken = default)
    {
        var result = new long[keys.Count];
        lock (_lock)
            for (var i = 0; i < keys.Count; i++) result[i] = _first.GetValueOrDefault(keys[i], long.MaxValue);
        return ValueTask.FromResult(result);
    }
}

/// <summary>Claimed perceptual hashes in band buckets (see <see cref="HammingBands"/>), held in this process; thread-safe.</summary>
public sealed class InProcessNearDuplicateClaims(int maxDistance) : INearDuplicateClaims
{
    private readonly HammingBands _bands = new(maxDistance);
    private readonly Dictionary<(int Band, ulong Value), List<HashClaim>> _buckets = [];
    private readonly Lock _lock = new();

    public int MaxDistance { get; } = maxDistance;

    public ValueTask ClaimAsync(IReadOnlyList<HashClaim> claims, CancellationToken cancellationToken = default)
    {
        lock (_lock)
            foreach (var claim in claims)
                for (var b = 0; b < _bands.Count; b++)
                {
                    var key = (b, _bands.Value(claim.Hash, b));
                    if (!_buckets.TryGetValue(key, out var bucket)) _buckets[key] = bucket = [];
                    bucket.Add(claim);
                }
        return ValueTask.CompletedTask;
    }

    public ValueTask<long[]> EarliestNearAsync(IReadOnlyList<ulong> hashes, CancellationToken cancellationToken = default)
    {
        var result = new long[hashes.Count];
        lock (_lock)
            for (var i = 0; i < hashes.Count; i++)
            {
                result[i] = long.MaxValue;
                for (var b = 0; b < _bands.Count; b++)
                {
                    if (!_buckets.TryGetValue((b, _bands.Value(hashes[i], b)), out var bucket)) continue;
                    foreach (var claim in bucket)
                        if (claim.Position < result[i] && BitOperations.PopCount(claim.Hash ^ hashes[i]) <= MaxDistance) result[i] = claim.Position;
                }
            }
        return ValueTask.FromResult(result);
    }
}
