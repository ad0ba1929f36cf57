using System.Text.Json;
using System.Text.RegularExpressions;
using Platform.Ingestion.Dedupe;

namespace Platform.Ingestion.Shards;

/// <summary>
/// A dataset in a local folder. Files are written under hidden <c>.NAME.partial</c> names, flushed to disk and
/// renamed into place, so a visible file is always complete. A shard is committed when its
/// <c>{shard}_stats.json</c> exists; that file is published last.
/// </summary>
public sealed partial class LocalDatasetFolder
{
    private const string PartialSuffix = ".partial";

    public LocalDatasetFolder(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Path.Combine(Root, "_jobs"));
    }

    public string Root { get; }

    public static string ShardName(int shard) => shard.ToString("D5");

    public static string TarName(int shard) => $"{ShardName(shard)}.tar";
    public static string ParquetName(int shard) => $"{ShardName(shard)}.parquet";
    public static string StatsName(int shard) => $"{ShardName(shard)}_stats.json";
    public static string DedupeName(int shard) => $"{ShardName(shard)}_dedupe.bin";

    public bool IsCommitted(int shard) => File.Exists(Path.Combine(Root, StatsName(shard)));

    public IReadOnlyList<int> CommittedShards() => [.. Directory.EnumerateFiles(Root, "*_stats.json")
        .Select(path => StatsFile().Match(Path.GetFileName(path)))
        .Where(match => match.Success)
        .Select(match => int.Parse(match.Groups[1].Value))
        .Order()];

    /// <summary>Leftovers of interrupted writes; they are never read and are overwritten anyway.</summary>
    public void RemovePartials()
    {
        foreach (var partial in Directory.EnumerateFiles(Root, "*" + PartialSuffix)) File.Delete(partial);
    }

    public FileStream OpenPartial(string fileName) => new(PartialPath(fileName), FileMode.Create, FileAccess.Write,
        FileShare.None, bufferSize: 1 << 16, FileOptions.Asynchronous);

    /// <summary>Flushes the partial file to disk, closes it and renames it to its final name.</summary>
    public async Task PublishAsync(FileStream partial, string fileName, CancellationToken cancellationToken)
    {
        await partial.FlushAsync(cancellationToken);
        partial.Flush(flushToDisk: true);
        await partial.DisposeAsync();
        File.Move(PartialPath(fileName), Path.Combine(Root, fileName), overwrite: true);
    }

    public async Task WriteFileAsync(string fileName, Func<Stream, Task> write, CancellationToken cancellationToken)
    {
        var partial = OpenPartial(fileName);
        try
        {
            await write(partial);
        }
        catch
        {
            await partial.DisposeAsync();
            throw;
        }
        await PublishAsync(partial, fileName, cancellationToken);
    }

    public DedupeDelta ReadDedupeDelta(int shard)
    {
        var path = Path.Combine(Root, DedupeName(shard));
        if (!File.Exists(path)) return new DedupeDelta();
        using var stream = File.OpenRead(path);
        return DedupeDelta.ReadFrom(stream);
    }

    /// <summary>
    /// The first shard number of a job. A job seen before resumes at the number it was given, so its shards
    /// keep their names; a new job starts after every committed shard and every other job's start.
    /// Jobs into one dataset are expected to run one after another.
    /// </summary>
    public async Task<int> ResolveFirstShardAsync(string jobId, CancellationToken cancellationToken)
    {
        if (!JobId().IsMatch(jobId)) throw new ArgumentException($"job id '{jobId}' must match {JobId()}", nameof(jobId));
        var jobFile = Path.Combine("_jobs", $"{jobId}.json");
        var jobPath = Path.Combine(Root, jobFile);
        if (File.Exists(jobPath))
            return JsonSerializer.Deserialize<JobRecord>(await File.ReadAllBytesAsync(jobPath, cancellationToken))!.FirstShard;

        var otherStarts = Directory.EnumerateFiles(Path.Combine(Root, "_jobs"), "*.json")
            .Select(path => JsonSerializer.Deserialize<JobRecord>(File.ReadAllBytes(path))!.FirstShard);
        var first = CommittedShards().Select(s => s + 1).Concat(otherStarts.Select(s => s + 1)).DefaultIfEmpty(0).Max();
        await WriteFileAsync(jobFile, s => JsonSerializer.SerializeAsync(s, new JobRecord(first), cancellationToken: cancellationToken),
            cancellationToken);
        return first;
    }

    private string PartialPath(string fileName)
    {
        var directory = Path.GetDirectoryName(fileName) ?? "";
        return Path.Combine(Root, directory, "." + Path.GetFileName(fileName) + PartialSuffix);
    }

    private sealed record JobRecord(int FirstShard);

    [GeneratedRegex(@"^(\d{5,})_stats\.json$")]
    private static partial Regex StatsFile();

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex JobId();
}
