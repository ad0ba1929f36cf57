using System.Text.Json;
using Platform.Datasets;
using Platform.Grains.Datasets;

namespace Platform.Dashboard.Services;

/// <summary>One stage of a funnel: items in, items passed, and the rest by reason.</summary>
public sealed record FunnelStage(string Stage, long In, long Passed, IReadOnlyList<KeyValuePair<string, long>> Rejected);

/// <summary>
/// A whole dataset's funnel: the extraction stages of every ingest job that wrote into the dataset's locations (their
/// <c>funnel-JOB.json</c>), then the <see cref="ShardStage"/> summed over the <c>_stats.json</c> of every committed shard.
/// </summary>
/// <param name="ShardsCounted">Shards whose stats are in <see cref="Stages"/>; fewer than <paramref name="ShardCount"/> while counting.</param>
/// <param name="ShardsWithoutStats">Counted shards whose stats file could not be read.</param>
/// <param name="JobFunnels">The job funnel files the extraction stages come from.</param>
public sealed record DatasetFunnel(IReadOnlyList<FunnelStage> Stages, int ShardsCounted, int ShardCount, int ShardsWithoutStats, IReadOnlyList<string> JobFunnels)
{
    /// <summary>The ingestion library's name for the image attempts' stage (its <c>FunnelStage.ShardStage</c>).</summary>
    public const string ShardStage = "shards";

    public bool Complete => ShardsCounted >= ShardCount;
}

/// <summary>
/// Keeps each dataset's funnel without scanning shards. A manifest only grows, in commit order, so a dataset's tally
/// remembers how many shards it has counted and reads only the stats of shards committed since (its manifest version);
/// the job funnels beside the shards are listed again at most every <see cref="ListingInterval"/>. Counting runs in the
/// background: a page waits a moment for it, then shows how far it got and updates as it goes on.
/// </summary>
public sealed class DatasetFunnels(DatasetCatalog catalog)
{
    private const int ShardsPerRead = 500;
    private const string JobFunnelPrefix = "funnel-";
    private static readonly TimeSpan ListingInterval = TimeSpan.FromSeconds(10);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Tally> _tallies = new(StringComparer.Ordinal);

    /// <summary>The funnel of <paramref name="dataset"/> with up to <paramref name="shardCount"/> shards counted, waiting at most <paramref name="wait"/> for shards not counted yet.</summary>
    public async Task<DatasetFunnel> GetAsync(string dataset, int shardCount, TimeSpan wait, CancellationToken cancellationToken)
    {
        var tally = _tallies.GetOrAdd(dataset, _ => new Tally());
        Task updating;
        bool counting;
        lock (tally)
        {
            counting = tally.Counted < shardCount;
            if ((counting || DateTimeOffset.UtcNow - tally.ListedAt > ListingInterval) && tally.Updating.IsCompleted)
                tally.Updating = Task.Run(() => UpdateAsync(dataset, tally, shardCount));
            updating = tally.Updating;
        }
        // Only new shards are worth a wait; a periodic look for new job funnels shows on the next refresh.
        if (counting)
        {
            await Task.WhenAny(updating, Task.Delay(wait, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
        lock (tally) return tally.Snapshot(shardCount);
    }

    private async Task UpdateAsync(string dataset, Tally tally, int shardCount)
    {
        var grain = catalog.Dataset(dataset);
        while (true)
        {
            int from;
            lock (tally) from = tally.Counted;
            if (from >= shardCount) break;
            var shards = await grain.ListShards(from, Math.Min(ShardsPerRead, shardCount - from));
            if (shards.Count == 0) break;
            var stats = await catalog.StatsAsync(shards, CancellationToken.None);
            lock (tally) tally.Add(shards, stats);
        }
        string[] homes;
        lock (tally) homes = [.. tally.Homes];
        foreach (var home in homes)
        {
            var store = await catalog.OpenFolderAsync(home);
            foreach (var name in await store.ListAsync(JobFunnelPrefix, CancellationToken.None))
            {
                var key = $"{home}/{name}";
                lock (tally) if (tally.JobFunnels.ContainsKey(key)) continue;
                var bytes = await store.ReadAsync(name, CancellationToken.None);
                if (bytes is null) continue;
                var stages = ParseJobFunnel(bytes);
                lock (tally) tally.JobFunnels[key] = stages;
            }
        }
        lock (tally) tally.ListedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>The stages of a job's funnel file (the ingestion library's <c>FunnelStats</c> JSON): name, in, passed, rejected by reason.</summary>
    public static IReadOnlyList<FunnelStage> ParseJobFunnel(byte[] json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return [.. document.RootElement.GetProperty("stages").EnumerateArray().Select(stage => new FunnelStage(
                stage.GetProperty("stage").GetString() ?? "",
                stage.GetProperty("in").GetInt64(),
                stage.GetProperty("passed").GetInt64(),
                [.. stage.GetProperty("rejected").EnumerateObject().Select(r => KeyValuePair.Create(r.Name, r.Value.GetInt64()))]))];
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // A damaged file costs its job's extraction stages, not the page.
            return [];
        }
    }

    /// <summary>A dataset's counts so far; guarded by locking the tally.</summary>
    private sealed class Tally
    {
        public Task Updating = Task.CompletedTask;
        public int Counted;
        public DateTimeOffset ListedAt = DateTimeOffset.MinValue;
        public readonly HashSet<string> Homes = new(StringComparer.Ordinal);
        public readonly SortedDictionary<string, IReadOnlyList<FunnelStage>> JobFunnels = new(StringComparer.Ordinal);
        private long _attempted, _stored;
        private int _withoutStats;
        private readonly Dictionary<string, long> _reasons = new(StringComparer.Ordinal);

        public void Add(IReadOnlyList<ShardEntry> shards, IReadOnlyList<ShardStats?> stats)
        {
            foreach (var (shard, shardStats) in shards.Zip(stats))
            {
                Homes.Add(DatasetCatalog.Home(shard));
                if (shardStats is null) { _withoutStats++; continue; }
                _attempted += shardStats.Attempted;
                _stored += shardStats.Successes;
                foreach (var (reason, count) in shardStats.ReasonCounts) _reasons[reason] = _reasons.GetValueOrDefault(reason) + count;
            }
            Counted += shards.Count;
        }

        public DatasetFunnel Snapshot(int shardCount)
        {
            // Extraction stages summed over the jobs, in the order the jobs' files list them; the shard stage is the dataset's own.
            var extraction = new List<(string Stage, long In, long Passed, Dictionary<string, long> Rejected)>();
            foreach (var stage in JobFunnels.Values.SelectMany(stages => stages).Where(s => s.Stage != DatasetFunnel.ShardStage))
            {
                var index = extraction.FindIndex(s => s.Stage == stage.Stage);
                if (index < 0)
                {
                    extraction.Add((stage.Stage, 0, 0, new Dictionary<string, long>(StringComparer.Ordinal)));
                    index = extraction.Count - 1;
                }
                var sum = extraction[index];
                foreach (var (reason, count) in stage.Rejected) sum.Rejected[reason] = sum.Rejected.GetValueOrDefault(reason) + count;
                extraction[index] = (sum.Stage, sum.In + stage.In, sum.Passed + stage.Passed, sum.Rejected);
            }
            var stages = extraction.Select(s => new FunnelStage(s.Stage, s.In, s.Passed, ByCount(s.Rejected))).ToList();
            if (Counted > _withoutStats) stages.Add(new FunnelStage(DatasetFunnel.ShardStage, _attempted, _stored, ByCount(_reasons)));
            return new DatasetFunnel(stages, Math.Min(Counted, shardCount), shardCount, _withoutStats, [.. JobFunnels.Keys]);
        }

        private static IReadOnlyList<KeyValuePair<string, long>> ByCount(Dictionary<string, long> counts) =>
            [.. counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal)];
    }
}
