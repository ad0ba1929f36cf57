using Platform.Datasets;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Images;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Stages;

namespace Platform.Ingestion.Runs;

/// <summary>Outcome of one run into a dataset.</summary>
public sealed record DatasetRunSummary(int FirstShard, int ShardsWritten, int ShardsAlreadyCommitted, ShardStats Totals);

/// <summary>
/// `ingest run`'s shard phase: the cluster's shard stages (<see cref="FetchShardStage"/>, <see cref="DedupeStage"/>,
/// <see cref="WriteShardStage"/>) driven shard by shard in one process, with the claims held in memory. Candidates are cut into
/// shards by position, so a rerun of the same job gives every candidate the same shard and key. Committed shards are skipped, and
/// the claims start from their dedupe deltas: every key a committed shard holds counts as claimed before anything this run decides,
/// so an unfinished shard is decided as the run that crashed would have decided it and comes out byte for byte the same.
/// </summary>
/// <param name="work">The job's work directory; each shard is fetched into its <see cref="IngestJobLayout.FetchDirectory"/>, removed once written.</param>
public sealed class InProcessShardPhase(
    IDatasetStore dataset,
    IImageSource source,
    ImageProcessor processor,
    DedupeOptions dedupe,
    ShardWriterOptions options,
    IngestJobLayout work)
{
    /// <summary>Where a committed shard's keys claim: before position 0, the first sample of the job.</summary>
    private const long CommittedPosition = -1;

    /// <summary>One process fetches every shard once.</summary>
    private const int Attempt = 0;

    public async Task<DatasetRunSummary> RunAsync(IEnumerable<ImageCandidate> candidates, string jobId, CancellationToken cancellationToken)
    {
        FirstClaimDedupe.ThrowIfUnsupported(dedupe);
        await dataset.RemovePartialsAsync(cancellationToken);
        var firstShard = await dataset.ResolveFirstShardAsync(jobId, cancellationToken);
        var committed = (await dataset.CommittedShardsAsync(cancellationToken)).ToHashSet();
        var urls = new InProcessKeyClaims();
        var images = new InProcessKeyClaims();
        var nearImages = dedupe.MaxImageHammingDistance is { } distance ? new InProcessNearDuplicateClaims(distance) : null;
        foreach (var number in committed.Order())
        {
            var delta = await dataset.ReadDedupeDeltaAsync(number, cancellationToken);
            await urls.ClaimAsync([.. delta.UrlKeys.Select(key => new KeyClaim(key, CommittedPosition))], cancellationToken);
            await images.ClaimAsync([.. delta.ImageKeys.Select(key => new KeyClaim(key, CommittedPosition))], cancellationToken);
            if (nearImages is not null)
                await nearImages.ClaimAsync([.. delta.ImageHashes.Select(hash => new HashClaim(hash, CommittedPosition))], cancellationToken);
        }

        var totals = new ShardStats { Shard = "all" };
        int written = 0, skipped = 0;
        var shard = 0;
        foreach (var shardCandidates in candidates.Chunk(options.SamplesPerShard))
        {
            var number = firstShard + shard;
            if (committed.Contains(number)) skipped++;
            else
            {
                var firstPosition = (long)shard * options.SamplesPerShard;
                var knownUrlDuplicates = dedupe.ByUrl
                    ? (await DedupeStage.ClaimUrlsAsync([.. shardCandidates.Select(c => DedupeKeys.OfUrl(c.Url))], firstPosition, urls, cancellationToken))
                        .ToHashSet()
                    : null;
                var directory = work.FetchDirectory(shard, Attempt);
                var samples = await FetchShardStage.FetchAsync(shardCandidates, source, processor, dedupe, options, directory, cancellationToken,
                    knownUrlDuplicates);
                var verdicts = await DedupeStage.DecideShardAsync(samples, firstPosition, dedupe, urls, images, nearImages, cancellationToken);
                var stats = (await WriteShardStage.RunAsync(dataset, number, directory, verdicts, dedupe, cancellationToken)).Stats;
                Directory.Delete(directory, recursive: true);
                Accumulate(totals, stats);
                written++;
            }
            shard++;
        }
        return new DatasetRunSummary(firstShard, written, skipped, totals);
    }

    private static void Accumulate(ShardStats totals, ShardStats shard)
    {
        totals.Attempted += shard.Attempted;
        totals.Successes += shard.Successes;
        foreach (var (status, n) in shard.StatusCounts) totals.StatusCounts[status] = totals.StatusCounts.GetValueOrDefault(status) + n;
        foreach (var (reason, n) in shard.ReasonCounts) totals.ReasonCounts[reason] = totals.ReasonCounts.GetValueOrDefault(reason) + n;
    }
}
