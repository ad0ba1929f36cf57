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
