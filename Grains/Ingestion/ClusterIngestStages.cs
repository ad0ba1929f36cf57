using Platform.Datasets;
using Platform.Grains.Crawling;
using Platform.Grains.Datasets;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Stages;

namespace Platform.Grains.Ingestion;

/// <summary>
/// The cluster executor's calls into the ingestion stages (Ingestion/Stages): each maps a grain's
/// assignment to the stage's inputs and injects the Orleans-backed implementations (pair counts and dedupe claims partitioned
/// over grains under a scope of the attempt, released afterwards; the dataset grain that commits a shard).
/// </summary>
public static class ClusterIngestStages
{
    public static async Task<UnitReport> ExtractUnitAsync(UnitAssignment a, DumpInputs inputs, CancellationToken cancellationToken)
    {
        var unit = await ExtractUnitStage.RunAsync(a.InputUnit, new UnitFolder(a.Directory), IngestJobOptions.Extraction(a.Settings), inputs,
            IngestJobOptions.LanguageDetector(a.Settings), cancellationToken);
        return new UnitReport(unit.InputBytes, unit.Pages, unit.PairsPassed, unit.TextDocuments, unit.Extent.DecompressedStart, unit.Extent.DecompressedBytes);
    }

    /// <summary>
    /// The run-wide stages after every unit is extracted, under counts of this attempt: count and frequency filter
    /// (<see cref="FinishStage"/>); then, for a job with a dataset, the job's first shard number (fixed once, in the dataset's
    /// store), its text in the dataset, its funnel when no pair was kept, and the URL duplicates the shard fetches skip.
    /// </summary>
    /// <returns>The pairs kept and the job's first shard number (0 without a dataset).</returns>
    public static async Task<(long Kept, int FirstShard)> FinishAsync(IGrainFactory grains, IngestStorage storage, string jobId, IngestJobRequest job,
        FinishRequest request, CancellationToken cancellationToken)
    {
        long kept;
        var counter = new GrainPairFrequencyCounter(grains, $"{jobId}/finish-{request.Attempt}", request.Options.Frequency);
        try
        {
            kept = await FinishStage.RunAsync(request, counter, cancellationToken);
        }
        finally
        {
            await counter.ReleaseAsync();
        }
        if (job.Dataset is null) return (kept, 0);
        var store = await storage.OpenDatasetAsync(job.EffectiveDatasetLocation, cancellationToken);
        var shardCount = IngestJobOptions.ShardCount(kept, job.Settings);
        var dataset = grains.GetGrain<IDatasetGrain>(job.Dataset);
        var first = await store.ResolveFirstShardAsync(jobId, cancellationToken, atLeast => dataset.ReserveShardNumbers(jobId, shardCount, atLeast));
        await FunnelStage.WriteTextAsync(store, request.Layout.Text, jobId, cancellationToken);
        // With no pair kept there is no shard phase; the funnel is complete now.
        if (shardCount == 0)
            await FunnelStage.WriteFunnelAsync(store, request.Layout, jobId, first, 0, cancellationToken);
        var urls = new GrainKeyClaims(grains, $"{jobId}/urls-{request.Attempt}");
        try
        {
            await DedupeStage.FindUrlDuplicatesAsync(request.Layout, request.Attempt, job.Settings.DedupeByUrl, urls, cancellationToken);
        }
        finally
        {
            await urls.ReleaseAsync();
        }
        return (kept, first);
    }

    /// <summary>
    /// Fetches a shard's images with the cluster's per-host politeness (the crawls' host grains): shards fetched at once on
    /// every silo share one robots.txt, one Crawl-delay and one circuit per host, with each other and with any crawl.
    /// </summary>
    public static async Task<ShardReport> FetchShardAsync(IGrainFactory grains, ShardAssignment a, DumpInputs inputs, CancellationToken cancellationToken)
    {
        var options = IngestJobOptions.Run(a.Settings);
        var politeness = new GrainHostPoliteness(grains, options.Downloader.Politeness, options.Downloader.RobotsProductToken);
        var samples = await FetchShardStage.RunAsync(new IngestJobLayout(a.OutputDirectory), a.Shard, a.Directory, options, inputs, cancellationToken, politeness);
        return new ShardReport(samples.Count, samples.Count(s => s.HasImage));
    }

    /// <summary>Dedupe attempt <paramref name="attempt"/> over claim grains of its own scope.</summary>
    public static async Task DecideDedupeAsync(IGrainFactory grains, string jobId, IngestJobLayout layout, int attempt, IReadOnlyList<string> fetchDirectories,
        IngestJobSettings settings, CancellationToken cancellationToken)
    {
        var scope = $"{jobId}/dedupe-{attempt}";
        var options = IngestJobOptions.Dedupe(settings);
        var urls = new GrainKeyClaims(grains, scope + "/urls");
        var images = new GrainKeyClaims(grains, scope + "/sha256");
        var near = options.MaxImageHammingDistance is { } distance ? new GrainNearDuplicateClaims(grains, scope + "/phash", distance) : null;
        try
        {
            await DedupeStage.DecideAsync(layout, attempt, fetchDirectories, settings.SamplesPerShard, options, urls, images, near, cancellationToken);
        }
        finally
        {
            await Task.WhenAll(urls.ReleaseAsync(), images.ReleaseAsync(), near?.ReleaseAsync() ?? Task.CompletedTask);
        }
    }

    /// <summary>
    /// Writes the shard's files and commits it to the job's dataset. A redo of a shard already committed (its worker died after the
    /// commit, or a crash lost the job's record of it) writes nothing: a committed tar is never overwritten, and the report comes
    /// from the committed shard's stats. A redo before the commit writes the same bytes, which the commit recognises by checksum.
    /// </summary>
    public static async Task<ShardReport> WriteShardAsync(IGrainFactory grains, IDatasetStore store, ShardAssignment a, CancellationToken cancellationToken)
    {
        var number = a.FirstShardNumber + a.Shard;
        if (await grains.GetGrain<IDatasetGrain>(a.Dataset).GetShard(DatasetLayout.ShardName(number)) is { } committed)
        {
            // Published before the commit, so present; missing, the shard's files were lost, which only a person can judge.
            var committedStats = await store.ReadAsync(DatasetLayout.StatsName(number), cancellationToken)
                ?? throw new InvalidOperationException($"Shard {committed.ShardId} of dataset '{a.Dataset}' is committed but its stats file is missing from {store.Location}.");
            var stats = ShardStats.FromJson(committedStats);
            return new ShardReport(stats.Attempted, stats.Successes);
        }
        var verdicts = await DedupeStage.ReadVerdictsAsync(a.VerdictsFile!, cancellationToken);
        var written = await WriteShardStage.RunAsync(store, number, a.Directory, verdicts, IngestJobOptions.Dedupe(a.Settings), cancellationToken);
        var writtenStats = written.Stats;
        var entry = new ShardEntry(DatasetLayout.ShardName(number), writtenStats.Successes, written.TarBytes, written.TarSha256,
            WriteShardStage.TarLocation(store, number), DateTimeOffset.UtcNow);
        if (await grains.GetGrain<IDatasetGrain>(a.Dataset).AddShard(entry) == ShardAddResult.ConflictingChecksum)
            throw new InvalidOperationException($"Shard {entry.ShardId} of dataset '{a.Dataset}' is already committed with other contents.");
        return new ShardReport(writtenStats.Attempted, writtenStats.Successes);
    }
}
