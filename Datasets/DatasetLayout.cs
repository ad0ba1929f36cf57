using System.Text.Json;
using System.Text.RegularExpressions;

namespace Platform.Datasets;

/// <summary>
/// File names of a dataset and the rules over them: a shard is committed when <c>{shard}_stats.json</c>
/// exists (published last); each job records its first shard number under <c>_jobs/</c>.
/// </summary>
public static partial class DatasetLayout
{
    public static string ShardName(int shard) => shard.ToString("D5");
    public static string TarName(int shard) => $"{ShardName(shard)}.tar";
    public static string ParquetName(int shard) => $"{ShardName(shard)}.parquet";
    public static string StatsName(int shard) => $"{ShardName(shard)}_stats.json";
    public static string DedupeName(int shard) => $"{ShardName(shard)}_dedupe.bin";

    private const string JobsPrefix = "_jobs/";

    public static async Task<IReadOnlyList<int>> CommittedShardsAsync(this IDatasetStore store, CancellationToken cancellationToken) =>
        [.. (await store.ListAsync("", cancellationToken))
            .Select(name => StatsFile().Match(name))
            .Where(match => match.Success)
            .Select(match => int.Parse(match.Groups[1].Value))
            .Order()];

    public static async Task WriteFileAsync(this IDatasetStore store, string name, Func<Stream, Task> write,
        CancellationToken cancellationToken)
    {
        var partial = store.OpenPartial(name);
        try
        {
            await write(partial);
        }
        catch
        {
            await partial.DisposeAsync();
            throw;
        }
        await store.PublishAsync(partial, name, cancellationToken);
    }

    /// <summary>
    /// The first shard number of a job. A job seen before resumes at the number it was given, so its shards
    /// keep their names; a new job starts after every committed shard and every other job's start in this
    /// location, or where <paramref name="allocate"/> (given that lower bound) says: the dataset's own
    /// allocator, which knows the jobs of every location and serialises concurrent ones. Without one, jobs
    /// into one location are expected to run one after another.
    /// </summary>
    public static async Task<int> ResolveFirstShardAsync(this IDatasetStore store, string jobId, CancellationToken cancellationToken,
        Func<int, Task<int>>? allocate = null)
    {
        if (!JobId().IsMatch(jobId)) throw new ArgumentException($"job id '{jobId}' must match {JobId()}", nameof(jobId));
        var jobFile = $"{JobsPrefix}{jobId}.json";
        if (await store.ReadAsync(jobFile, cancellationToken) is { } existing)
            return JsonSerializer.Deserialize<JobRecord>(existing)!.FirstShard;

        var otherStarts = new List<int>();
        foreach (var name in await store.ListAsync(JobsPrefix, cancellationToken))
            if (await store.ReadAsync(name, cancellationToken) is { } other)
                otherStarts.Add(JsonSerializer.Deserialize<JobRecord>(other)!.FirstShard);
        var first = (await store.CommittedShardsAsync(cancellationToken)).Concat(otherStarts)
            .Select(s => s + 1).DefaultIfEmpty(0).Max();
        if (allocate is not null) first = await allocate(first);
        await store.WriteFileAsync(jobFile, s => JsonSerializer.SerializeAsync(s, new JobRecord(first), cancellationToken: cancellationToken),
            cancellationToken);
        return first;
    }

    private sealed record JobRecord(int FirstShard);

    /// <summary>Job ids name files in the dataset's location, so they keep to a safe alphabet.</summary>
    public static bool IsValidJobId(string jobId) => JobId().IsMatch(jobId);

    public static string InvalidJobId(string jobId) =>
        $"Job id '{(jobId.Length > 40 ? jobId[..40] + "..." : jobId)}' must be 1-100 characters of letters, digits, '.', '_' and '-'.";

    [GeneratedRegex(@"^(\d{5,})_stats\.json$")]
    private static partial Regex StatsFile();

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex JobId();
}
