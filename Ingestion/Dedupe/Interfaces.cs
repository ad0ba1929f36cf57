namespace Platform.Ingestion.Dedupe;

/// <summary>
/// Set of exact keys (URL or image-bytes fingerprints). In process now; a distributed implementation
/// partitions by the key's leading bits (one grain per prefix), which is why keys are uniform hashes.
/// </summary>
public interface IExactKeySet
{
    /// <summary>Adds the key; false when it was already present.</summary>
    ValueTask<bool> TryAddAsync(UInt128 key, CancellationToken cancellationToken = default);

    ValueTask<bool> ContainsAsync(UInt128 key, CancellationToken cancellationToken = default);
}

/// <summary>
/// Index of 64-bit perceptual hashes answering "is anything stored within Hamming distance d?". Lookups
/// go through LSH bands, never a scan; a distributed implementation keys one grain per (band, band value).
/// </summary>
public interface INearDuplicateImageIndex
{
    int MaxDistance { get; }

    /// <summary>A stored hash within <see cref="MaxDistance"/> of <paramref name="hash"/>, or null.</summary>
    ValueTask<ulong?> FindAsync(ulong hash, CancellationToken cancellationToken = default);

    ValueTask AddAsync(ulong hash, CancellationToken cancellationToken = default);
}

/// <summary>Index of MinHash signatures of captions; a distributed implementation keys grains by band bucket.</summary>
public interface INearDuplicateTextIndex
{
    /// <summary>True when a stored signature's estimated Jaccard similarity reaches the index's threshold.</summary>
    ValueTask<bool> ContainsNearAsync(ulong[] signature, CancellationToken cancellationToken = default);

    ValueTask AddAsync(ulong[] signature, CancellationToken cancellationToken = default);
}

/// <summary>
/// Counts per key (e.g. how many kept images share one caption). In process now; a distributed implementation
/// partitions by the key's leading bits like <see cref="IExactKeySet"/>.
/// </summary>
public interface IKeyCounter
{
    /// <summary>Adds <paramref name="amount"/> and returns the new count.</summary>
    ValueTask<long> IncrementAsync(UInt128 key, long amount = 1, CancellationToken cancellationToken = default);

    ValueTask<long> GetAsync(UInt128 key, CancellationToken cancellationToken = default);
}

/// <summary>
/// Exact keys claimed by samples at their input positions, remembering the earliest claimant of each key.
/// "Earliest position wins" gives the same decisions whatever order the claims arrive in, so shards can be
/// attempted in parallel: claim everything first, decide after. Calls take whole batches; a distributed
/// implementation sends one call per partition per batch.
/// </summary>
public interface IKeyClaims
{
    /// <summary>Records each claim; a key keeps the smallest position claimed for it. Claiming again changes nothing.</summary>
    ValueTask ClaimAsync(IReadOnlyList<KeyClaim> claims, CancellationToken cancellationToken = default);

    /// <summary>Per key, the smallest position that claimed it, or <see cref="long.MaxValue"/> when none did.</summary>
    ValueTask<long[]> FirstClaimsAsync(IReadOnlyList<UInt128> keys, CancellationToken cancellationToken = default);
}

public readonly record struct KeyClaim(UInt128 Key, long Position);

/// <summary>Perceptual hashes claimed at input positions; answers "which earliest position claimed a hash within <see cref="MaxDistance"/>?".</summary>
public interface INearDuplicateClaims
{
    int MaxDistance { get; }

    ValueTask ClaimAsync(IReadOnlyList<HashClaim> claims, CancellationToken cancellationToken = default);

    /// <summary>Per hash, the smallest position of a claimed hash within <see cref="MaxDistance"/> of it, or <see cref="long.MaxValue"/>.</summary>
    ValueTask<long[]> EarliestNearAsync(IReadOnlyList<ulong> hashes, CancellationToken cancellationToken = default);
}

public readonly record struct HashClaim(ulong Hash, long Position);
