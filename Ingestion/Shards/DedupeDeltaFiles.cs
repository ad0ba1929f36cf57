using Platform.Datasets;
using Platform.Ingestion.Dedupe;

namespace Platform.Ingestion.Shards;

/// <summary>
/// The dedupe state a committed shard adds (<see cref="DatasetLayout.DedupeName"/>). Its file name belongs to the
/// dataset layout, but its content is the ingestion dedupe's own format, so reading it stays with ingestion.
/// </summary>
public static class DedupeDeltaFiles
{
    public static async Task<DedupeDelta> ReadDedupeDeltaAsync(this IDatasetStore store, int shard, CancellationToken cancellationToken)
    {
        var bytes = await store.ReadAsync(DatasetLayout.DedupeName(shard), cancellationToken);
        if (bytes is null) return new DedupeDelta();
        using var stream = new MemoryStream(bytes);
        return DedupeDelta.ReadFrom(stream);
    }
}
