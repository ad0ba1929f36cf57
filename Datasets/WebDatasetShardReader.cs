using System.Formats.Tar;

namespace Platform.Datasets;

/// <summary>
/// One WebDataset sample: the tar members that share a key, by extension
/// ("jpg", "txt", "json"). Keys written by our shard writer (as img2dataset's) are the 5-digit
/// shard number followed by the 4-digit index within the shard.
/// </summary>
public sealed record ShardSample(string Key, IReadOnlyDictionary<string, byte[]> Files);

/// <summary>What a shard read skipped, with the reason, so bad input is counted rather than lost silently.</summary>
public sealed record ShardProblem(string Shard, string? Key, string Reason);

/// <summary>
/// Streams samples out of WebDataset tar shards without unpacking them. Members are grouped by
/// key (the file name up to its first dot) in archive order, as WebDataset does; a member
/// without an extension, a non-file entry or a truncated archive is reported and skipped.
/// </summary>
public static class WebDatasetShardReader
{
    public static IEnumerable<ShardSample> Read(string shardPath, Action<ShardProblem>? onProblem = null) =>
        Read(DatasetShard.File(shardPath), onProblem);

    public static IEnumerable<ShardSample> Read(DatasetShard shard, Action<ShardProblem>? onProblem = null)
    {
        using var stream = shard.OpenRead();
        foreach (var sample in Read(stream, shard.Name, onProblem)) yield return sample;
    }

    public static IEnumerable<ShardSample> Read(Stream tar, string shardName, Action<ShardProblem>? onProblem = null)
    {
        using var reader = new TarReader(tar, leaveOpen: true);
        string? key = null;
        var files = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        while (true)
        {
            TarEntry? entry;
            byte[]? content = null;
            try
            {
                entry = reader.GetNextEntry();
                if (entry is { EntryType: TarEntryType.RegularFile or TarEntryType.V7RegularFile, DataStream: not null })
                {
                    using var buffer = new MemoryStream();
                    entry.DataStream.CopyTo(buffer);
                    content = buffer.ToArray();
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
            {
                onProblem?.Invoke(new ShardProblem(shardName, key, $"unreadable tar ({e.Message}); the rest of the shard is skipped"));
                break;
            }
            if (entry is null) break;
            if (content is null)
            {
                if (entry.EntryType is not TarEntryType.Directory)
                    onProblem?.Invoke(new ShardProblem(shardName, null, $"{entry.Name}: not a regular file ({entry.EntryType})"));
                continue;
            }
            string name = Path.GetFileName(entry.Name);
            int dot = name.IndexOf('.');
            if (dot <= 0 || dot == name.Length - 1)
            {
                onProblem?.Invoke(new ShardProblem(shardName, null, $"{entry.Name}: no key.extension name"));
                continue;
            }
            string entryKey = Path.Combine(Path.GetDirectoryName(entry.Name) ?? "", name[..dot]);
            if (key is not null && entryKey != key)
            {
                yield return new ShardSample(key, files);
                files = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
            }
            key = entryKey;
            string extension = name[(dot + 1)..];
            if (!files.TryAdd(extension, content))
                onProblem?.Invoke(new ShardProblem(shardName, key, $"{entry.Name}: second member with this name; the first is kept"));
        }
        if (key is not null && files.Count > 0) yield return new ShardSample(key, files);
    }
}
