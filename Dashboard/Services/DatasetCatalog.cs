using Azure.Storage.Blobs.Models;
using Platform.Datasets;
using Platform.Grains.Datasets;

namespace Platform.Dashboard.Services;

/// <param name="ManifestContainer">The blob container of the datasets' manifests: one folder per dataset.</param>
public sealed record DatasetCatalogOptions(string ManifestContainer);

/// <summary>
/// The datasets the platform holds: their names from the manifest container's folders, their totals and shard pages from
/// each <see cref="IDatasetGrain"/> (which keeps its manifest in memory), so no page lists or reads shards to show them.
/// </summary>
public sealed class DatasetCatalog(DatasetManifestStore manifests, DatasetCatalogOptions options, IGrainFactory grains)
{
    public async Task<IReadOnlyList<DatasetTotals>> ListAsync(CancellationToken cancellationToken)
    {
        var container = manifests.Account.GetBlobContainerClient(options.ManifestContainer);
        if (!await container.ExistsAsync(cancellationToken)) return [];
        var names = new List<string>();
        await foreach (var item in container.GetBlobsByHierarchyAsync(BlobTraits.None, BlobStates.None, "/", null, cancellationToken))
            if (item.IsPrefix && DatasetNames.IsValid(item.Prefix.TrimEnd('/'))) names.Add(item.Prefix.TrimEnd('/'));
        var totals = await Task.WhenAll(names.Select(name => Dataset(name).GetTotals()));
        return totals;
    }

    public IDatasetGrain Dataset(string name) => grains.GetGrain<IDatasetGrain>(name);

    /// <summary>The shard a manifest entry points at, a local file or a blob of the platform's account.</summary>
    public DatasetShard Open(ShardEntry shard) => DatasetShard.AtLocation(shard.Location, manifests.Account);

    /// <summary>
    /// The stats file written beside each shard's tar (`00000_stats.json` beside `00000.tar`), for the shards a page shows;
    /// null for a shard whose stats cannot be read. Small files, read in parallel.
    /// </summary>
    public async Task<IReadOnlyList<ShardStats?>> StatsAsync(IReadOnlyList<ShardEntry> shards, CancellationToken cancellationToken) =>
        await Task.WhenAll(shards.Select(shard => _stats.TryGetValue(shard.Location, out var known) ? Task.FromResult<ShardStats?>(known) : Task.Run(() =>
        {
            var stats = ReadStats(shard);
            // A committed shard's stats never change: each is read once per process (a bounded number of them).
            if (stats is not null && _stats.Count < MaxCachedStats) _stats.TryAdd(shard.Location, stats);
            return stats;
        }, cancellationToken)));

    private const int MaxCachedStats = 100_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ShardStats> _stats = new(StringComparer.Ordinal);

    private ShardStats? ReadStats(ShardEntry shard)
    {
        if (!shard.Location.EndsWith(".tar", StringComparison.Ordinal)) return null;
        try
        {
            using var stream = DatasetShard.AtLocation(shard.Location[..^".tar".Length] + "_stats.json", manifests.Account).OpenRead();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return ShardStats.FromJson(copy.ToArray());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or System.Text.Json.JsonException or Azure.RequestFailedException)
        {
            return null;
        }
    }

    /// <summary>The folder or blob prefix that holds some of a dataset's files (a <see cref="Home"/>), to list and read the files beside its shards.</summary>
    public Task<IDatasetStore> OpenFolderAsync(string home) => DatasetTarget.OpenWithClientAsync(home, manifests.Account, CancellationToken.None);

    /// <summary>Where a dataset's shards live, said once for the page: the folder or container of its first shard.</summary>
    public static string Home(ShardEntry shard)
    {
        var location = shard.Location;
        var cut = Math.Max(location.LastIndexOf('/'), location.LastIndexOf(Path.DirectorySeparatorChar));
        return cut > 0 ? location[..cut] : location;
    }
}
