namespace Platform.Grains.Ingestion;

/// <summary>
/// One partition of a job's exact dedupe keys (URL or image SHA-256 fingerprints): per key, the earliest input
/// position that claimed it. A key lives in the partition named by its top byte, so a job's keys spread over
/// <see cref="DedupePartitions.Count"/> grains. Kept in memory only; a caller detects a lost partition by the
/// activation id changing and claims again under a fresh scope. Key: "{scope}/{partition:x2}".
/// Keys travel as two halves (<c>High</c>, <c>Low</c>) of the 128-bit key.
/// </summary>
public interface IDedupeKeyGrain : IGrainWithStringKey
{
    /// <summary>Claims a batch of keys, all of this partition; <c>Added[i]</c> tells whether key i was unclaimed before.</summary>
    Task<KeyClaimAnswer> Claim(ulong[] high, ulong[] low, long[] positions);

    /// <summary>The earliest claim of each key (<see cref="long.MaxValue"/> when unclaimed).</summary>
    Task<FirstClaimAnswer> FirstClaims(ulong[] high, ulong[] low);

    Task Release();
}

/// <summary>
/// One partition of a job's perceptual-hash band buckets (the dedupe library's <c>HammingBands</c>):
/// a bucket is one (band, band value), and lives in the partition its mixed id's top byte names. Stores every
/// claimed (hash, position) of its buckets; answers, per query, the earliest claim within a Hamming distance found
/// in the query's bucket. Kept in memory like <see cref="IDedupeKeyGrain"/>. Key: "{scope}/{partition:x2}".
/// </summary>
public interface INearDuplicateBucketGrain : IGrainWithStringKey
{
    Task<Guid> Claim(int[] bands, ulong[] bandValues, ulong[] hashes, long[] positions);

    Task<NearClaimAnswer> Earliest(int[] bands, ulong[] bandValues, ulong[] hashes, int maxDistance);

    Task Release();
}

[GenerateSerializer, Immutable]
public sealed record KeyClaimAnswer([property: Id(0)] Guid Activation, [property: Id(1)] bool[] Added);

[GenerateSerializer, Immutable]
public sealed record FirstClaimAnswer([property: Id(0)] Guid Activation, [property: Id(1)] long[] Positions);

/// <summary>Per query, the earliest position within the distance (<see cref="long.MaxValue"/> when none) and that claim's hash.</summary>
[GenerateSerializer, Immutable]
public sealed record NearClaimAnswer([property: Id(0)] Guid Activation, [property: Id(1)] long[] Positions, [property: Id(2)] ulong[] Hashes);

public static class DedupePartitions
{
    /// <summary>256 partitions: the top byte of the key.</summary>
    public const int Count = 256;

    public static int Of(UInt128 key) => (int)(key >> 120);

    /// <summary>Band buckets are few and their values small, so their id is mixed (SplitMix64's finaliser) before its top byte picks the partition.</summary>
    public static int OfBucket(int band, ulong bandValue)
    {
        var z = bandValue + 0x9E3779B97F4A7C15UL * (ulong)(band + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) >> 56);
    }

    public static string Key(string scope, int partition) => $"{scope}/{partition:x2}";

    public static int PartitionOfKey(string grainKey) => Convert.ToInt32(grainKey[(grainKey.LastIndexOf('/') + 1)..], 16);
}

/// <summary>A dedupe partition lost its claims (its silo died) while a job was deciding.</summary>
public sealed class DedupeClaimsLostException(string scope, int partition)
    : Exception($"Dedupe claims of scope '{scope}' partition {partition:x2} were lost (the partition was reactivated); claim again under a new scope.");
