namespace Platform.Grains.Datasets;

/// <summary>
/// A host's durable record of the shard commits it acknowledged, written before the manifest append, for storage that may
/// lose its latest writes in a crash (the embedded default's Azurite). At start the host adds every journaled shard again,
/// which a manifest that kept it takes as already present. Hosts on durable storage register none.
/// </summary>
public interface IShardCommitJournal
{
    Task AppendAsync(string dataset, IReadOnlyList<ShardEntry> shards, CancellationToken cancellationToken = default);
}
