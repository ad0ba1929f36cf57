using Parquet;
using Parquet.Serialization;
using Platform.Datasets;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Images;

namespace Platform.Ingestion.Shards;

/// <summary>Outcome of one run into a dataset.</summary>
public sealed record DatasetRunSummary(int FirstShard, int ShardsWritten, int ShardsAlreadyCommitted, ShardStats Totals);

/// <summary>
/// Turns image candidates into WebDataset shards, exactly once. Candidates are cut into shards by position,
/// so a rerun of the same job gives every candidate the same shard and key. Committed shards are skipped;
/// an unfinished shard is redone from scratch against the dedupe state of committed shards only, so it comes
/// out byte for byte as an uninterrupted run would have written it. Within a shard, downloads and decodes run
/// in parallel but every dedupe decision and write happens in candidate order.
/// </summary>
public sealed class ImageDatasetWriter(
    IDatasetStore dataset,
    IImageSource source,
    ImageProcessor processor,
    DedupeFilter dedupe,
    ShardWriterOptions options)
{
    /// <summary>Reason when the image source threw instead of reporting a failure.</summary>
    public const string SourceError = "source_error";

    /// <summary>Reason when the image checks threw instead of rejecting.</summary>
    public const string ProcessingError = "processing_error";

    private static readonly ParquetOptions Parquet = new() { CompressionMethod = CompressionMethod.Snappy };

    public async Task<DatasetRunSummary> RunAsync(IEnumerable<ImageCandidate> candidates, string jobId,
        CancellationToken cancellationToken)
    {
        await dataset.RemovePartialsAsync(cancellationToken);
        var firstShard = await dataset.ResolveFirstShardAsync(jobId, cancellationToken);
        var committed = (await dataset.CommittedShardsAsync(cancellationToken)).ToHashSet();
        foreach (var shard in committed.Order())
            await dedupe.ApplyAsync(await dataset.ReadDedupeDeltaAsync(shard, cancellationToken), cancellationToken);

        var totals = new ShardStats { Shard = "all" };
        int written = 0, skipped = 0;
        var shardNumber = firstShard;
        foreach (var shardCandidates in candidates.Chunk(options.SamplesPerShard))
        {
            if (committed.Contains(shardNumber)) skipped++;
            else
            {
                var stats = await WriteShardAsync(shardNumber, shardCandidates, cancellationToken);
                Accumulate(totals, stats);
                written++;
            }
            shardNumber++;
        }
        return new DatasetRunSummary(firstShard, written, skipped, totals);
    }

    private async Task<ShardStats> WriteShardAsync(int shard, ImageCandidate[] candidates, CancellationToken cancellationToken)
    {
        var name = DatasetLayout.ShardName(shard);
        var stats = new ShardStats { Shard = name };
        var rows = new List<SampleRecord>(candidates.Length);
        var delta = new DedupeDelta();
        var window = Math.Max(1, options.MaxParallelism * options.WindowPerWorker);

        var tarFile = dataset.OpenPartial(DatasetLayout.TarName(shard));
        try
        {
            await using (var tar = new WebDatasetShardWriter(tarFile))
            {
                for (var start = 0; start < candidates.Length; start += window)
                {
                    var count = Math.Min(window, candidates.Length - start);
                    var samples = new SampleRecord[count];
                    var claimed = new bool[count];
                    for (var i = 0; i < count; i++)
                    {
                        var candidate = candidates[start + i];
                        samples[i] = new SampleRecord { Url = candidate.Url, Caption = candidate.Caption, Key = $"{name}{start + i:D4}" };
                        var duplicate = await dedupe.ClaimUrlAsync(candidate.Url, delta, cancellationToken);
                        if (duplicate is null) claimed[i] = true;
                        else Mark(samples[i], SampleStatus.Duplicate, duplicate);
                    }

                    var images = new ProcessedImage?[count];
                    await Parallel.ForEachAsync(Enumerable.Range(0, count).Where(i => claimed[i]),
                        new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelism, CancellationToken = cancellationToken },
                        async (i, ct) => images[i] = await FetchAndCheckAsync(candidates[start + i], samples[i], ct));

                    for (var i = 0; i < count; i++)
                    {
                        var sample = samples[i];
                        if (images[i] is { } image)
                        {
                            var duplicate = await dedupe.AdmitAsync(image, sample.Caption, delta, cancellationToken);
                            Describe(sample, image);
                            if (duplicate is not null) Mark(sample, SampleStatus.Duplicate, duplicate);
                            else
                            {
                                sample.Status = SampleStatus.Success;
                                await tar.WriteSampleAsync(sample, image.Jpeg, cancellationToken);
                            }
                        }
                        rows.Add(sample);
                        stats.Count(sample);
                    }
                }
            }
            await dataset.PublishAsync(tarFile, DatasetLayout.TarName(shard), cancellationToken);
        }
        catch
        {
            await tarFile.DisposeAsync();
            throw;
        }

        await PublishShardRestAsync(dataset, shard, rows, delta, stats, cancellationToken);
        return stats;
    }

    /// <summary>After the shard's tar: its sample table, its dedupe additions and, last, the stats that mark it committed.</summary>
    internal static async Task PublishShardRestAsync(IDatasetStore dataset, int shard, List<SampleRecord> rows, DedupeDelta delta, ShardStats stats,
        CancellationToken cancellationToken)
    {
        await dataset.WriteFileAsync(DatasetLayout.ParquetName(shard),
            s => ParquetSerializer.SerializeAsync(rows, s, Parquet, cancellationToken: cancellationToken), cancellationToken);
        await dataset.WriteFileAsync(DatasetLayout.DedupeName(shard), s =>
        {
            delta.WriteTo(s);
            return Task.CompletedTask;
        }, cancellationToken);
        // Last: its presence is what makes the shard count as done.
        await dataset.WriteFileAsync(DatasetLayout.StatsName(shard), s => s.WriteAsync(stats.ToJson(), cancellationToken).AsTask(),
            cancellationToken);
    }

    private Task<ProcessedImage?> FetchAndCheckAsync(ImageCandidate candidate, SampleRecord sample, CancellationToken ct) =>
        FetchAndCheckAsync(source, processor, candidate, sample, ct);

    /// <summary>Fetches and checks one sample; on failure marks <paramref name="sample"/> with the reason and returns null.</summary>
    internal static async Task<ProcessedImage?> FetchAndCheckAsync(IImageSource source, ImageProcessor processor, ImageCandidate candidate,
        SampleRecord sample, CancellationToken ct)
    {
        FetchResult fetched;
        try
        {
            fetched = await source.FetchAsync(candidate, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // One misbehaving sample must not stop the shard; it is counted under its own reason.
            Mark(sample, SampleStatus.FailedToDownload, SourceError);
            return null;
        }
        if (fetched.Payload is not { } payload)
        {
            Mark(sample, SampleStatus.FailedToDownload, fetched.FailureReason ?? SourceError);
            return null;
        }
        ImageOutcome outcome;
        try
        {
            outcome = processor.Process(payload);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Mark(sample, SampleStatus.Rejected, ProcessingError);
            return null;
        }
        if (outcome.Image is null)
        {
            Mark(sample, SampleStatus.Rejected, outcome.Rejection!.Value.Code());
            return null;
        }
        return outcome.Image;
    }

    internal static void Mark(SampleRecord sample, string status, string reason)
    {
        sample.Status = status;
        sample.ErrorMessage = reason;
    }

    internal static void Describe(SampleRecord sample, ProcessedImage image)
    {
        sample.Width = image.Width;
        sample.Height = image.Height;
        sample.OriginalWidth = image.OriginalWidth;
        sample.OriginalHeight = image.OriginalHeight;
        sample.Sha256 = image.Sha256;
        sample.Phash = image.PerceptualHash.ToString("x16");
    }

    private static void Accumulate(ShardStats totals, ShardStats shard)
    {
        totals.Attempted += shard.Attempted;
        totals.Successes += shard.Successes;
        foreach (var (status, n) in shard.StatusCounts) totals.StatusCounts[status] = totals.StatusCounts.GetValueOrDefault(status) + n;
        foreach (var (reason, n) in shard.ReasonCounts) totals.ReasonCounts[reason] = totals.ReasonCounts.GetValueOrDefault(reason) + n;
    }
}
