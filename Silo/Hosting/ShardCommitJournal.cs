using Microsoft.Extensions.Options;
using Platform.Grains.Datasets;
using Platform.Grains.Work;

namespace Platform.Silo.Hosting;

/// <summary>
/// The embedded default's local record of acknowledged shard commits (manifest appends): one JSON line per shard, flushed to
/// disk (fsync) before the dataset grain appends it to the manifest and answers. Beside <see cref="SubmissionJournal"/>, for the
/// same reason: Azurite may lose its last 5 s of writes in a crash, and a lost manifest append would leave a committed shard
/// (its tar durable in the dataset's folder) out of its dataset. At start <see cref="ShardCommitJournalReplay"/> adds every
/// journaled shard again, which a manifest that kept it takes as already present (commits are idempotent by dataset and shard id).
/// <para>
/// A start after a clean stop compacts it (<see cref="CompactAsync"/>): every append it holds is then durable in its manifest, so only
/// the names of its datasets are kept (one line each, no shard), which is all the start-up check needs to know what this host wrote.
/// </para>
/// </summary>
public sealed class ShardCommitJournal(string? folder) : IShardCommitJournal
{
    public const string CommitsFile = "shard-commits.jsonl";

    private readonly JournalFile? file = folder is null ? null : new JournalFile(folder, CommitsFile);

    /// <param name="Shard">Null on a compacted line: the dataset was written to, and its commits are durable in its manifest.</param>
    public sealed record Entry(string Dataset, ShardEntry? Shard);

    public bool IsOn => file is not null;

    public string? CommitsPath => file?.Path;

    /// <summary>Where a compaction writes before its rename; a crash can leave it behind, unread.</summary>
    public string? CompactingPath => file?.RewritePath;

    public Task AppendAsync(string dataset, IReadOnlyList<ShardEntry> shards, CancellationToken cancellationToken = default) =>
        file?.AppendAsync(shards.Select(shard => new Entry(dataset, shard)), cancellationToken) ?? Task.CompletedTask;

    /// <summary>
    /// Each journaled dataset's shards in commit order, the first line per shard id (as manifest readers keep the first); a dataset
    /// whose lines were compacted is there with the shards journaled since (none, until it is written again).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<ShardEntry>> Read()
    {
        var byDataset = new Dictionary<string, List<ShardEntry>>(StringComparer.Ordinal);
        var seen = new HashSet<(string, string)>();
        foreach (var entry in file?.Read<Entry>() ?? [])
        {
            if (entry is not { Dataset: not null }) continue;
            if (!byDataset.TryGetValue(entry.Dataset, out var shards)) byDataset[entry.Dataset] = shards = [];
            if (entry.Shard is { ShardId: not null } shard && seen.Add((entry.Dataset, shard.ShardId))) shards.Add(shard);
        }
        return byDataset.ToDictionary(d => d.Key, d => (IReadOnlyList<ShardEntry>)d.Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// Keeps one shard-less line per dataset (see <see cref="JournalFile.RewriteAsync{T}"/> for why a crash loses nothing). Only when
    /// every journaled append is known durable in its manifest: at a start after a clean stop, before anything is written.
    /// </summary>
    public Task CompactAsync(CancellationToken cancellationToken = default) =>
        file?.RewriteAsync<Entry>(entries => entries.Where(e => e.Dataset is not null).Select(e => e.Dataset).Distinct(StringComparer.Ordinal)
            .Select(dataset => new Entry(dataset, null)), cancellationToken) ?? Task.CompletedTask;
}

/// <summary>At start, adds every journaled shard to its dataset again (see <see cref="ShardCommitJournal"/>), through a storage outage.</summary>
public sealed class ShardCommitJournalReplay(ShardCommitJournal journal, IGrainFactory grains, IOptions<StorageRetryOptions> storageRetry,
    ILogger<ShardCommitJournalReplay> logger)
{
    /// <summary>Shards per call, so that a long journal does not make one oversized message.</summary>
    private const int Batch = 1_000;

    /// <param name="lastRunStoppedCleanly">
    /// The storage stopped cleanly too and kept every append: nothing is re-driven, and the journal is compacted instead.
    /// </param>
    /// <returns>The datasets the journal names: every dataset this host has committed shards to.</returns>
    public async Task<IReadOnlyList<string>> ReplayAsync(CancellationToken stoppingToken, bool lastRunStoppedCleanly = false)
    {
        if (lastRunStoppedCleanly)
        {
            await journal.CompactAsync(stoppingToken);
            return [.. journal.Read().Keys.Order(StringComparer.Ordinal)];
        }
        var journaled = journal.Read();
        foreach (var (dataset, shards) in journaled.Where(d => d.Value.Count > 0))
        {
            var retry = StorageRetry.Pipeline(storageRetry.Value, logger, $"Re-driving the journaled commits of dataset '{dataset}'");
            try
            {
                var added = 0;
                var conflicts = new List<string>();
                foreach (var batch in shards.Chunk(Batch))
                {
                    var result = await retry.ExecuteAsync(async token => await grains.GetGrain<IDatasetGrain>(dataset).AddShards(batch).WaitAsync(token), stoppingToken);
                    added += result.Added;
                    conflicts.AddRange(result.ConflictingShardIds);
                }
                if (added > 0)
                    logger.LogWarning("{Added} shards of dataset {Dataset} were committed but lost by storage (a crash); added them again from the journal", added, dataset);
                if (conflicts.Count > 0)
                    logger.LogError("Dataset {Dataset} holds other contents under journaled shard ids {ShardIds} than were committed; left as they are", dataset,
                        string.Join(", ", conflicts));
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                logger.LogError(error, "Could not re-drive the journaled commits of dataset {Dataset}", dataset);
            }
        }
        return [.. journaled.Keys.Order(StringComparer.Ordinal)];
    }
}
