using System.Security.Cryptography;

namespace Platform.Datasets;

public enum ManifestProblemKind
{
    /// <summary>The manifest names a tar whose sha256 is not its checksum: the committed shard was damaged or overwritten.</summary>
    ChecksumDiffers,
    /// <summary>The manifest names a tar that is not there.</summary>
    TarMissing,
    /// <summary>A tar in a folder the manifest's shards live in that no manifest line names: never committed, or its commit was lost.</summary>
    TarNotInManifest,
}

public sealed record ManifestProblem(ManifestProblemKind Kind, string Location, string? ShardId, string Detail)
{
    /// <summary>Damage to what was committed (as opposed to a tar no commit names, which a running job may still commit).</summary>
    public bool IsDamage => Kind is ManifestProblemKind.ChecksumDiffers or ManifestProblemKind.TarMissing;
}

public sealed record DatasetCheckResult(string Dataset, int ShardsChecked, IReadOnlyList<ManifestProblem> Problems)
{
    /// <summary>How many of the checked shards had their sha256 computed; the others were only found to be there.</summary>
    public int ShardsHashed { get; init; }
}

/// <summary>
/// Whether a dataset's manifest agrees with its shard files: every listed tar is there with the sha256 its line names, and every
/// tar in the folders the manifest's shards live in is listed. It reports and never changes anything: a committed tar is the
/// record of what training reads, and only its owner can say which of two disagreeing copies is right.
/// </summary>
public static class DatasetManifestCheck
{
    /// <param name="hashTars">
    /// False: every listed tar is only looked for, not read. Hashing reads every committed byte, which only a crash in the middle
    /// of a write can have damaged; after a clean stop the looking is enough.
    /// </param>
    public static async Task<DatasetCheckResult> CheckAsync(string dataset, IReadOnlyList<ManifestShard> entries, Func<ManifestShard, DatasetShard> resolve,
        CancellationToken cancellationToken, bool hashTars = true)
    {
        var problems = new List<ManifestProblem>();
        var listedFiles = new HashSet<string>(StringComparer.Ordinal);
        var hashed = 0;
        foreach (var entry in entries)
        {
            var shard = resolve(entry);
            if (shard.LocalPath is { } path) listedFiles.Add(Path.GetFullPath(path));
            string? actual = null;
            try
            {
                await using var tar = shard.OpenRead();
                if (hashTars)
                {
                    actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(tar, cancellationToken));
                    hashed++;
                }
            }
            catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
            {
                problems.Add(new ManifestProblem(ManifestProblemKind.TarMissing, entry.Location, entry.ShardId,
                    $"shard {entry.ShardId} of dataset '{dataset}' is committed at {entry.Location}, which does not exist"));
                continue;
            }
            if (actual is not null && !string.Equals(actual, entry.Checksum, StringComparison.OrdinalIgnoreCase))
                problems.Add(new ManifestProblem(ManifestProblemKind.ChecksumDiffers, entry.Location, entry.ShardId,
                    $"shard {entry.ShardId} of dataset '{dataset}' at {entry.Location} has sha256 {actual}, but its manifest line says {entry.Checksum}"));
        }
        foreach (var folder in listedFiles.Select(Path.GetDirectoryName).Distinct(StringComparer.Ordinal).Where(Directory.Exists).Order(StringComparer.Ordinal))
            foreach (var tar in Directory.EnumerateFiles(folder!, "*.tar").Order(StringComparer.Ordinal))
                // Hidden names are writers' partial files, never published.
                if (!Path.GetFileName(tar).StartsWith('.') && !listedFiles.Contains(tar))
                    problems.Add(new ManifestProblem(ManifestProblemKind.TarNotInManifest, tar, null,
                        $"{tar} lies among the shards of dataset '{dataset}' but no manifest line names it"));
        return new DatasetCheckResult(dataset, entries.Count, problems) { ShardsHashed = hashed };
    }
}
