using Platform.Ingestion.Dedupe;

namespace Platform.Grains.Ingestion;

/// <summary>
/// Remembers the activation id each partition answered with first; a different one later means the partition's
/// silo died and its claims are gone (<see cref="DedupeClaimsLostException"/>).
/// </summary>
internal sealed class PartitionActivations(string scope)
{
    private readonly Guid?[] known = new Guid?[DedupePartitions.Count];

    public void Check(int partition, Guid activation)
    {
        lock (known)
        {
            if (known[partition] is { } seen && seen != activation) throw new DedupeClaimsLostException(scope, partition);
            known[partition] = activation;
        }
    }

    /// <summary>Partitions that have answered, so releasing a scope does not activate the ones it never used.</summary>
    public IEnumerable<int> Touched()
    {
        lock (known) return [.. Enumerable.Range(0, DedupePartitions.Count).Where(p => known[p] is not null)];
    }
}

/// <summary>
/// The exact keys of one scope (e.g. "{job}/dedupe-2/urls") over the partitioned <see cref="IDedupeKeyGrain"/>s.
/// The batch members send one call per partition touched, in parallel; the <see cref="IExactKeySet"/> members
/// are that with a batch of one (the set form claims at position 0), for callers that decide one sample at a time.
/// </summary>
public sealed class GrainKeyClaims(IGrainFactory grains, string scope) : IKeyClaims, IExactKeySet
{
    private readonly PartitionActivations activations = new(scope);
    private int calls;

    /// <summary>Grain calls made so far, to check that calls stay batched.</summary>
    public int Calls => calls;

    public async ValueTask ClaimAsync(IReadOnlyList<KeyClaim> claims, CancellationToken cancellationToken = default) =>
        await ClaimBatchAsync(claims);

    public async ValueTask<long[]> FirstClaimsAsync(IReadOnlyList<UInt128> keys, CancellationToken cancellationToken = default)
    {
        var result = new long[keys.Count];
        await Task.WhenAll(ByPartition(keys.Count, i => keys[i]).Select(async group =>
        {
            Interlocked.Increment(ref calls);
            var answer = await Grain(group.Key).FirstClaims([.. group.Select(i => (ulong)(keys[i] >> 64))], [.. group.Select(i => (ulong)keys[i])]);
            activations.Check(group.Key, answer.Activation);
            var j = 0;
            foreach (var i in group) result[i] = answer.Positions[j++];
        }));
        return result;
    }

    public async ValueTask<bool> TryAddAsync(UInt128 key, CancellationToken cancellationToken = default) =>
        (await ClaimBatchAsync([new KeyClaim(key, 0)]))[0];

    public async ValueTask<bool> ContainsAsync(UInt128 key, CancellationToken cancellationToken = default) =>
        (await FirstClaimsAsync([key], cancellationToken))[0] != long.MaxValue;

    /// <summary>Lets the partitions of this scope go once the job no longer needs them.</summary>
    public Task ReleaseAsync() => Task.WhenAll(activations.Touched().Select(p => Grain(p).Release()));

    private async Task<bool[]> ClaimBatchAsync(IReadOnlyList<KeyClaim> claims)
    {
        var added = new bool[claims.Count];
        await Task.WhenAll(ByPartition(claims.Count, i => claims[i].Key).Select(async group =>
        {
            Interlocked.Increment(ref calls);
            var answer = await Grain(group.Key).Claim([.. group.Select(i => (ulong)(claims[i].Key >> 64))], [.. group.Select(i => (ulong)claims[i].Key)],
                [.. group.Select(i => claims[i].Position)]);
            activations.Check(group.Key, answer.Activation);
            var j = 0;
            foreach (var i in group) added[i] = answer.Added[j++];
        }));
        return added;
    }

    private IDedupeKeyGrain Grain(int partition) => grains.GetGrain<IDedupeKeyGrain>(DedupePartitions.Key(scope, partition));

    private static IEnumerable<IGrouping<int, int>> ByPartition(int count, Func<int, UInt128> keyOf) =>
        Enumerable.Range(0, count).GroupBy(i => DedupePartitions.Of(keyOf(i)));
}

/// <summary>
/// The perceptual hashes of one scope over the partitioned <see cref="INearDuplicateBucketGrain"/>s: each hash goes
/// to the bucket of each of its bands, and a lookup asks each band's bucket, one call per partition touched.
/// The <see cref="INearDuplicateImageIndex"/> members are the same with a batch of one (added hashes claim position 0).
/// </summary>
public sealed class GrainNearDuplicateClaims(IGrainFactory grains, string scope, int maxDistance) : INearDuplicateClaims, INearDuplicateImageIndex
{
    private readonly HammingBands bands = new(maxDistance);
    private readonly PartitionActivations activations = new(scope);
    private int calls;

    public int MaxDistance { get; } = maxDistance;

    /// <summary>Grain calls made so far, to check that calls stay batched.</summary>
    public int Calls => calls;

    public async ValueTask ClaimAsync(IReadOnlyList<HashClaim> claims, CancellationToken cancellationToken = default) =>
        await Task.WhenAll(Buckets(claims.Count, i => claims[i].Hash).Select(async group =>
        {
            Interlocked.Increment(ref calls);
            var activation = await Grain(group.Key).Claim([.. group.Select(q => q.Band)], [.. group.Select(q => q.Value)],
                [.. group.Select(q => claims[q.Index].Hash)], [.. group.Select(q => claims[q.Index].Position)]);
            activations.Check(group.Key, activation);
        }));

    public async ValueTask<long[]> EarliestNearAsync(IReadOnlyList<ulong> hashes, CancellationToken cancellationToken = default) =>
        (await LookUpAsync(hashes)).Positions;

    public async ValueTask<ulong?> FindAsync(ulong hash, CancellationToken cancellationToken = default)
    {
        var (positions, matched) = await LookUpAsync([hash]);
        return positions[0] == long.MaxValue ? null : matched[0];
    }

    public async ValueTask AddAsync(ulong hash, CancellationToken cancellationToken = default) =>
        await ClaimAsync([new HashClaim(hash, 0)], cancellationToken);

    public Task ReleaseAsync() => Task.WhenAll(activations.Touched().Select(p => Grain(p).Release()));

    private async Task<(long[] Positions, ulong[] Matched)> LookUpAsync(IReadOnlyList<ulong> hashes)
    {
        var positions = Enumerable.Repeat(long.MaxValue, hashes.Count).ToArray();
        var matched = new ulong[hashes.Count];
        var answers = await Task.WhenAll(Buckets(hashes.Count, i => hashes[i]).Select(async group =>
        {
            var queries = group.ToArray();
            Interlocked.Increment(ref calls);
            var answer = await Grain(group.Key).Earliest([.. queries.Select(q => q.Band)], [.. queries.Select(q => q.Value)],
                [.. queries.Select(q => hashes[q.Index])], MaxDistance);
            activations.Check(group.Key, answer.Activation);
            return (queries, answer);
        }));
        // A hash asks one bucket per band; its answer is the earliest over them.
        foreach (var (queries, answer) in answers)
            for (var j = 0; j < queries.Length; j++)
                if (answer.Positions[j] < positions[queries[j].Index])
                {
                    positions[queries[j].Index] = answer.Positions[j];
                    matched[queries[j].Index] = answer.Hashes[j];
                }
        return (positions, matched);
    }

    private INearDuplicateBucketGrain Grain(int partition) => grains.GetGrain<INearDuplicateBucketGrain>(DedupePartitions.Key(scope, partition));

    private IEnumerable<IGrouping<int, (int Index, int Band, ulong Value)>> Buckets(int count, Func<int, ulong> hashOf) =>
        Enumerable.Range(0, count)
            .SelectMany(i => Enumerable.Range(0, bands.Count).Select(b => (Index: i, Band: b, Value: bands.Value(hashOf(i), b))))
            .GroupBy(q => DedupePartitions.OfBucket(q.Band, q.Value));
}
