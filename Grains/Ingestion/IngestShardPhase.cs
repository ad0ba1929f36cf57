using System.Text.Json;
using Platform.Datasets;
using Platform.Grains.Datasets;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Images;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;

namespace Platform.Grains.Ingestion;

/// <param name="FetchDirectories">The accepted fetch attempt's folder of every shard, in shard order.</param>
public sealed record DedupeRequest(string JobId, int Attempt, IReadOnlyList<string> FetchDirectories, string VerdictsDirectory, IngestJobSettings Settings);

/// <summary>
/// The shard phase of a job, after the frequency filter: the kept pairs (candidates.jsonl) are cut into shards of
/// <see cref="IngestJobSettings.SamplesPerShard"/> as `ingest run` cuts them. Each shard is fetched and checked by a
/// leased worker (<see cref="FetchAsync"/>); then the job decides dedupe for every sample at once over the
/// partitioned claim grains (<see cref="DecideAsync"/>, the earliest sample in input order wins); then each shard
/// is written and committed by a leased worker (<see cref="WriteAsync"/>). The dataset's files go to the job's
/// <see cref="IngestJobRequest.EffectiveDatasetLocation"/> (<c>{output}/dataset</c>, or a blob container) through its
/// <see cref="IDatasetStore"/>; the shards are committed to the <see cref="IDatasetGrain"/> of the job's dataset.
/// </summary>
public static class IngestShardPhase
{
    public const string DatasetFolder = IngestJobRequest.DefaultDatasetFolder;


    public static DedupeOptions DedupeOptions(IngestJobSettings settings) => new()
    {
        ByUrl = settings.DedupeByUrl,
        ByImageBytes = settings.DedupeByImageBytes,
        MaxImageHammingDistance = settings.MaxImageHammingDistance,
    };

    /// <summary>The `ingest run` options that give the same dataset as a job with these settings.</summary>
    public static IngestRunOptions RunOptions(IngestJobSettings settings) => new()
    {
        Extraction = IngestUnitExtraction.Options(settings),
        Dedupe = DedupeOptions(settings),
        Shards = new ShardWriterOptions { SamplesPerShard = settings.SamplesPerShard },
        DetectLanguage = settings.DetectLanguage,
    };

    /// <summary>As `ingest run` does, the job's cleaned text goes into the dataset beside the shards (once the final phase wrote it).</summary>
    public static Task WriteTextAsync(IDatasetStore store, string outputDirectory, string jobId, CancellationToken cancellationToken) =>
        store.WriteFileAsync(IngestRun.TextFileName(jobId), async s =>
        {
            await using var text = File.OpenRead(Path.Combine(outputDirectory, "text.jsonl"));
            await text.CopyToAsync(s, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// As `ingest run` does, the job's funnel goes into the dataset once every shard is committed: the final phase's
    /// stats.json, then the shard stage read from the shards' stats, with the kept pairs' image origins.
    /// </summary>
    public static async Task WriteFunnelAsync(IDatasetStore store, string outputDirectory, string jobId, int firstShard, int shardCount,
        CancellationToken cancellationToken)
    {
        var extraction = new FunnelStats();
        IngestJobFinisher.AddStats(extraction, await File.ReadAllTextAsync(Path.Combine(outputDirectory, "stats.json"), cancellationToken));
        long inDump = 0, fromWeb = 0;
        foreach (var line in File.ReadLines(Path.Combine(outputDirectory, "candidates.jsonl")))
        {
            if (line.Length == 0) continue;
            using var document = JsonDocument.Parse(line);
            if (PairCandidate.ReadJson(document.RootElement).ImageInDump) inDump++;
            else fromWeb++;
        }
        var funnel = await IngestRun.FunnelAsync(extraction, store, firstShard, shardCount, inDump, fromWeb, cancellationToken);
        await IngestRun.WriteFunnelAsync(store, jobId, funnel, cancellationToken);
    }

    /// <summary>Where the manifest says a shard's tar is: its path in a folder, its blob's URL in a container.</summary>
    public static string TarLocation(IDatasetStore store, int shard) => store is LocalDatasetFolder folder
        ? Path.Combine(folder.Root, DatasetLayout.TarName(shard))
        : store.Location + DatasetLayout.TarName(shard);

    public static int ShardCount(long pairsKept, IngestJobSettings settings) => (int)((pairsKept + settings.SamplesPerShard - 1) / settings.SamplesPerShard);

    /// <param name="inputs">Reads the images found in the job's dumps back out of them (local files or blobs).</param>
    public static async Task<ShardReport> FetchAsync(ShardAssignment a, DumpInputs inputs, CancellationToken cancellationToken)
    {
        var size = a.Settings.SamplesPerShard;
        var candidates = File.ReadLines(Path.Combine(a.OutputDirectory, "candidates.jsonl")).Where(line => line.Length > 0)
            .Skip(a.Shard * size).Take(size)
            .Select(line =>
            {
                using var document = JsonDocument.Parse(line);
                var pair = PairCandidate.ReadJson(document.RootElement);
                return new ImageCandidate(pair.ImageUrl, pair.AltText!);
            }).ToList();
        var wanted = candidates.Select(c => c.Url).ToHashSet(StringComparer.Ordinal);
        var dumped = new InProcessImageIndex();
        foreach (var line in File.ReadLines(Path.Combine(a.OutputDirectory, "images.jsonl")))
        {
            if (line.Length == 0) continue;
            using var document = JsonDocument.Parse(line);
            if (wanted.Contains(document.RootElement.GetProperty("url").GetString()!)) dumped.Add(DumpedImage.ReadJson(document.RootElement));
        }
        var options = RunOptions(a.Settings);
        var spoolPath = Path.Combine(Path.GetTempPath(), $"platform-shard-{Guid.NewGuid():N}.bin");
        using var spool = SequentialDumpSpool.ForCandidates(spoolPath, candidates, dumped, options.Extraction.Warc, options.Images.MaxBytes, cancellationToken,
            inputs);
        using var downloader = new HttpImageDownloader(options.Downloader);
        var source = new DumpOrWebImageSource(dumped, downloader, options.Extraction.Warc, options.Images.MaxBytes, spool, inputs);
        var first = (long)a.Shard * size;
        var urlDuplicates = File.ReadLines(UrlDuplicatesFile(a.OutputDirectory)).Select(long.Parse)
            .Where(position => position >= first && position < first + size).Select(position => (int)(position - first)).ToHashSet();
        var samples = await ShardAttempts.FetchAsync(candidates, source, new ImageProcessor(options.Images), options.Dedupe, options.Shards, a.Directory,
            cancellationToken, urlDuplicates);
        return new ShardReport(samples.Count, samples.Count(s => s.HasImage));
    }

    public static string UrlDuplicatesFile(string outputDirectory) => Path.Combine(outputDirectory, ".shards", "url-duplicates.txt");

    /// <summary>
    /// Before any image is fetched: the positions of kept pairs whose URL an earlier pair has (URL dedupe needs
    /// only the candidates), so shards fetch each URL once job-wide. Claimed over the partitioned key grains under
    /// a scope of the finishing attempt; written aside and moved into place.
    /// </summary>
    public static async Task FindUrlDuplicatesAsync(IGrainFactory grains, string jobId, int attempt, string outputDirectory, IngestJobSettings settings,
        CancellationToken cancellationToken)
    {
        var path = UrlDuplicatesFile(outputDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var keys = new List<UInt128>();
        if (settings.DedupeByUrl)
            foreach (var line in File.ReadLines(Path.Combine(outputDirectory, "candidates.jsonl")))
            {
                if (line.Length == 0) continue;
                using var document = JsonDocument.Parse(line);
                keys.Add(DedupeKeys.OfUrl(PairCandidate.ReadJson(document.RootElement).ImageUrl));
            }
        var urls = new GrainKeyClaims(grains, $"{jobId}/urls-{attempt}");
        var partial = path + $".{attempt}.partial";
        try
        {
            await using (var writer = new StreamWriter(partial) { NewLine = "\n" })
                foreach (var batch in Enumerable.Range(0, keys.Count).Chunk(1 << 20))
                {
                    await urls.ClaimAsync([.. batch.Select(i => new KeyClaim(keys[i], i))], cancellationToken);
                    var firstClaims = await urls.FirstClaimsAsync([.. batch.Select(i => keys[i])], cancellationToken);
                    // Claims of later batches cannot be earlier than a position of this one, so each batch is final once claimed.
                    for (var j = 0; j < batch.Length; j++)
                        if (firstClaims[j] < batch[j]) await writer.WriteLineAsync(batch[j].ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            await urls.ReleaseAsync();
        }
    }

    /// <summary>
    /// Claims every shard's samples under a scope of this attempt and writes one verdict file per shard. A lost
    /// partition (<see cref="DedupeClaimsLostException"/>) fails the attempt; the job retries under a fresh scope,
    /// claiming again from the fetched folders (nothing is fetched twice).
    /// </summary>
    public static async Task DecideAsync(IGrainFactory grains, DedupeRequest request, CancellationToken cancellationToken)
    {
        var size = request.Settings.SamplesPerShard;
        var subjects = new List<DedupeSubject>();
        var counts = new int[request.FetchDirectories.Count];
        for (var shard = 0; shard < request.FetchDirectories.Count; shard++)
        {
            var samples = ShardAttempts.ReadSamples(request.FetchDirectories[shard]);
            counts[shard] = samples.Count;
            subjects.AddRange(ShardAttempts.Subjects(samples, (long)shard * size));
        }
        var scope = $"{request.JobId}/dedupe-{request.Attempt}";
        var options = DedupeOptions(request.Settings);
        var urls = new GrainKeyClaims(grains, scope + "/urls");
        var images = new GrainKeyClaims(grains, scope + "/sha256");
        var near = options.MaxImageHammingDistance is { } distance ? new GrainNearDuplicateClaims(grains, scope + "/phash", distance) : null;
        try
        {
            var verdicts = await new FirstClaimDedupe(options, urls, images, near).DecideAsync(subjects, cancellationToken);
            Directory.CreateDirectory(request.VerdictsDirectory);
            var next = 0;
            for (var shard = 0; shard < counts.Length; shard++)
            {
                await File.WriteAllLinesAsync(VerdictsFile(request.VerdictsDirectory, shard), verdicts.Skip(next).Take(counts[shard]).Select(v => v ?? ""),
                    cancellationToken);
                next += counts[shard];
            }
        }
        finally
        {
            await Task.WhenAll(urls.ReleaseAsync(), images.ReleaseAsync(), near?.ReleaseAsync() ?? Task.CompletedTask);
        }
    }

    public static string VerdictsFile(string verdictsDirectory, int shard) => Path.Combine(verdictsDirectory, $"{shard:D5}.txt");

    /// <summary>
    /// Writes the shard's files and commits it. A redo after a worker died writes the same bytes, so the commit of
    /// an already committed shard is recognised by its checksum and changes nothing.
    /// </summary>
    public static async Task<ShardReport> WriteAsync(IGrainFactory grains, IDatasetStore store, ShardAssignment a, CancellationToken cancellationToken)
    {
        var verdicts = (await File.ReadAllLinesAsync(a.VerdictsFile!, cancellationToken)).Select(line => line.Length == 0 ? null : line).ToList();
        var number = a.FirstShardNumber + a.Shard;
        var written = await ShardAttempts.WriteAsync(store, number, a.Directory, verdicts, DedupeOptions(a.Settings), cancellationToken);
        var stats = written.Stats;
        var entry = new ShardEntry(DatasetLayout.ShardName(number), stats.Successes, written.TarBytes, written.TarSha256,
            TarLocation(store, number), DateTimeOffset.UtcNow);
        if (await grains.GetGrain<IDatasetGrain>(a.Dataset).AddShard(entry) == ShardAddResult.ConflictingChecksum)
            throw new InvalidOperationException($"Shard {entry.ShardId} of dataset '{a.Dataset}' is already committed with other contents.");
        return new ShardReport(stats.Attempted, stats.Successes);
    }
}
