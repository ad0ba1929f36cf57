using System.Numerics;

namespace Platform.Grains.Ingestion;

public sealed class DedupeKeyGrain : Grain, IDedupeKeyGrain
{
    private readonly Guid activation = Guid.NewGuid();
    private readonly Dictionary<UInt128, long> first = [];

    public Task<KeyClaimAnswer> Claim(ulong[] high, ulong[] low, long[] positions)
    {
        if (high.Length != low.Length || high.Length != positions.Length) throw new ArgumentException("Each claimed key needs one position.");
        var partition = DedupePartitions.PartitionOfKey(this.GetPrimaryKeyString());
        var added = new bool[high.Length];
        for (var i = 0; i < high.Length; i++)
        {
            var key = new UInt128(high[i], low[i]);
            // A key in the wrong partition would be claimed where no lookup finds it.
            if (DedupePartitions.Of(key) != partition) throw new ArgumentException($"Key {key:x32} belongs to partition {DedupePartitions.Of(key):x2}, not {partition:x2}.");
            if (first.TryGetValue(key, out var known))
            {
                if (positions[i] < known) first[key] = positions[i];
            }
            else
            {
                first[key] = positions[i];
                added[i] = true;
            }
        }
        return Task.FromResult(new KeyClaimAnswer(activation, added));
    }

    public Task<FirstClaimAnswer> FirstClaims(ulong[] high, ulong[] low)
    {
        var positions = new long[high.Length];
        for (var i = 0; i < high.Length; i++) positions[i] = first.GetValueOrDefault(new UInt128(high[i], low[i]), long.MaxValue);
        return Task.FromResult(new FirstClaimAnswer(activation, positions));
    }

    public Task Release()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

public sealed class NearDuplicateBucketGrain : Grain, INearDuplicateBucketGrain
{
    private readonly Guid activation = Guid.NewGuid();
    private readonly Dictionary<(int Band, ulong Value), List<(ulong Hash, long Position)>> buckets = [];

    public Task<Guid> Claim(int[] bands, ulong[] bandValues, ulong[] hashes, long[] positions)
    {
        if (bands.Length != bandValues.Length || bands.Length != hashes.Length || bands.Length != positions.Length)
            throw new ArgumentException("Each claim needs a band, a band value, a hash and a position.");
        var partition = DedupePartitions.PartitionOfKey(this.GetPrimaryKeyString());
        for (var i = 0; i < bands.Length; i++)
        {
            if (DedupePartitions.OfBucket(bands[i], bandValues[i]) != partition)
                throw new ArgumentException($"Bucket ({bands[i]}, {bandValues[i]:x}) does not belong to partition {partition:x2}.");
            if (!buckets.TryGetValue((bands[i], bandValues[i]), out var bucket)) buckets[(bands[i], bandValues[i])] = bucket = [];
            bucket.Add((hashes[i], positions[i]));
        }
        return Task.FromResult(activation);
    }

    public Task<NearClaimAnswer> Earliest(int[] bands, ulong[] bandValues, ulong[] hashes, int maxDistance)
    {
        var positions = new long[bands.Length];
        var matched = new ulong[bands.Length];
        for (var i = 0; i < bands.Length; i++)
        {
            positions[i] = long.MaxValue;
            if (!buckets.TryGetValue((bands[i], bandValues[i]), out var bucket)) continue;
            foreach (var (hash, position) in bucket)
                if (position < positions[i] && BitOperations.PopCount(hash ^ hashes[i]) <= maxDistance)
                {
                    positions[i] = position;
                    matched[i] = hash;
                }
        }
        return Task.FromResult(new NearClaimAnswer(activation, positions, matched));
    }

    public Task Release()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}
