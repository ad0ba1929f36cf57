namespace Platform.Grains.Datasets;

/// <summary>
/// The manifest of one dataset (key: dataset name): the shards committed to it. A shard is added
/// once its tar, index and stats are durable; adding the same shard id again changes nothing, so
/// workers and Hangfire jobs may retry freely.
/// </summary>
public interface IDatasetGrain : IGrainWithStringKey
{
    // Longer than the grain's own retries through a storage outage (Storage:OutageRetryCeiling, 90 s by default), so a commit
    // that waits out a 60 s pause answers rather than timing out while it goes on.
    [ResponseTimeout("00:03:00")]
    Task<ShardAddResult> AddShard(ShardEntry shard);

    /// <summary>Adds many shards with one storage write; the result counts each outcome.</summary>
    [ResponseTimeout("00:03:00")]
    Task<ShardBatchResult> AddShards(IReadOnlyList<ShardEntry> shards);

    /// <summary>Shards in commit order, a page at a time.</summary>
    Task<IReadOnlyList<ShardEntry>> ListShards(int skip, int take);

    Task<ShardEntry?> GetShard(string shardId);

    Task<DatasetTotals> GetTotals();

    /// <summary>
    /// Reserves <paramref name="count"/> shard numbers for <paramref name="jobId"/>, after every number
    /// committed or reserved in this dataset and at least <paramref name="atLeast"/> (what the job's location
    /// already holds), so jobs into one dataset never share a shard id, whatever their locations and however
    /// they overlap in time. The same job asking again gets the same first number.
    /// </summary>
    Task<int> ReserveShardNumbers(string jobId, int count, int atLeast);
}

/// <summary>One committed shard. <see cref="Checksum"/> is the sha256 (hex) of the shard's tar.</summary>
[GenerateSerializer, Immutable]
public sealed record ShardEntry(
    [property: Id(0)] string ShardId,
    [property: Id(1)] long SampleCount,
    [property: Id(2)] long SizeBytes,
    [property: Id(3)] string Checksum,
    [property: Id(4)] string Location,
    [property: Id(5)] DateTimeOffset CommittedAt);

[GenerateSerializer]
public enum ShardAddResult
{
    Added,
    AlreadyPresent,

    /// <summary>The id is taken by a shard with another checksum: two different shards claim one id, which is a bug upstream; the manifest keeps the first.</summary>
    ConflictingChecksum,
}

[GenerateSerializer, Immutable]
public sealed record ShardBatchResult(
    [property: Id(0)] int Added,
    [property: Id(1)] int AlreadyPresent,
    [property: Id(2)] IReadOnlyList<string> ConflictingShardIds);

[GenerateSerializer, Immutable]
public sealed record DatasetTotals(
    [property: Id(0)] string Dataset,
    [property: Id(1)] int ShardCount,
    [property: Id(2)] long SampleCount,
    [property: Id(3)] long SizeBytes,
    [property: Id(4)] DateTimeOffset? LastCommitAt);
