using System.Text;
using System.Text.Json;
using Platform.Datasets;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Shards;

namespace Platform.Ingestion.Stages;

/// <summary>
/// The last stage of a job, once its shards are committed: the dataset gets the job's cleaned page text
/// (<see cref="TextFileName"/>) and its funnel (<see cref="FunnelFileName"/>): extraction's stages, then
/// <see cref="ShardStage"/> over every shard of the job, with where the kept pairs' images come from as notes.
/// </summary>
public static class FunnelStage
{
    /// <summary>Funnel stage of the image attempts: fetch failures, image checks and dedupe by reason.</summary>
    public const string ShardStage = "shards";

    public static string TextFileName(string jobId) => $"text-{jobId}.jsonl";
    public static string FunnelFileName(string jobId) => $"funnel-{jobId}.json";

    /// <summary>Copies the job's cleaned page text (a text.jsonl) into the dataset.</summary>
    public static Task WriteTextAsync(IDatasetStore store, string textFile, string jobId, CancellationToken cancellationToken) =>
        store.WriteFileAsync(TextFileName(jobId), async s =>
        {
            await using var text = File.OpenRead(textFile);
            await text.CopyToAsync(s, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// The funnel of a job: <paramref name="extraction"/>'s stages, then <see cref="ShardStage"/> from the stats of every shard of
    /// the job (committed by this attempt or an earlier one), with the kept pairs' image origins (the dump or the web) as notes.
    /// </summary>
    public static async Task<FunnelStats> FunnelAsync(FunnelStats extraction, IDatasetStore store, int firstShard, int shardCount,
        long imagesInDump, long imagesFromWeb, CancellationToken cancellationToken)
    {
        var funnel = new FunnelStats();
        funnel.Merge(extraction);
        funnel.Stage(ShardStage);
        for (var shard = firstShard; shard < firstShard + shardCount; shard++)
        {
            var bytes = await store.ReadAsync(DatasetLayout.StatsName(shard), cancellationToken)
                ?? throw new InvalidDataException($"shard {DatasetLayout.ShardName(shard)} of this job has no stats in {store.Location}");
            var stats = ShardStats.FromJson(bytes);
            funnel.Enter(ShardStage, stats.Attempted);
            funnel.Pass(ShardStage, stats.Successes);
            foreach (var (reason, count) in stats.ReasonCounts) funnel.Reject(ShardStage, reason, count);
        }
        funnel.Note(ShardStage, "image_in_dump", imagesInDump);
        funnel.Note(ShardStage, "image_from_web", imagesFromWeb);
        return funnel;
    }

    public static Task WriteFunnelAsync(IDatasetStore store, string jobId, FunnelStats funnel, CancellationToken cancellationToken) =>
        store.WriteFileAsync(FunnelFileName(jobId), s => s.WriteAsync(Encoding.UTF8.GetBytes(funnel.ToJson()), cancellationToken).AsTask(), cancellationToken);

    /// <summary>
    /// The funnel of a job whose extraction outputs lie in <paramref name="layout"/>: its stats.json, then the shard stage, with the
    /// image origins read from its kept pairs.
    /// </summary>
    public static async Task WriteFunnelAsync(IDatasetStore store, IngestJobLayout layout, string jobId, int firstShard, int shardCount,
        CancellationToken cancellationToken)
    {
        var extraction = new FunnelStats();
        AddStats(extraction, await File.ReadAllTextAsync(layout.Stats, cancellationToken));
        long inDump = 0, fromWeb = 0;
        foreach (var pair in PairCandidate.ReadJsonLines(layout.Candidates))
            if (pair.ImageInDump) inDump++;
            else fromWeb++;
        var funnel = await FunnelAsync(extraction, store, firstShard, shardCount, inDump, fromWeb, cancellationToken);
        await WriteFunnelAsync(store, jobId, funnel, cancellationToken);
    }

    /// <summary>Replays a stats.json (a unit's, or a job's extraction) into <paramref name="stats"/>.</summary>
    public static void AddStats(FunnelStats stats, string json)
    {
        using var document = JsonDocument.Parse(json);
        foreach (var stage in document.RootElement.GetProperty("stages").EnumerateArray())
        {
            var name = stage.GetProperty("stage").GetString()!;
            stats.Enter(name, stage.GetProperty("in").GetInt64());
            stats.Pass(name, stage.GetProperty("passed").GetInt64());
            foreach (var reason in stage.GetProperty("rejected").EnumerateObject()) stats.Reject(name, reason.Name, reason.Value.GetInt64());
            foreach (var note in stage.GetProperty("notes").EnumerateObject()) stats.Note(name, note.Name, note.Value.GetInt64());
        }
    }
}
