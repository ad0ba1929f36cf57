using Platform.Datasets;
using Platform.Ingestion.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Images;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Sources;

namespace Platform.Ingestion.Runs;

/// <summary>Settings of a whole run; every part defaults to the settings of its own stage.</summary>
public sealed record IngestRunOptions
{
    public ExtractionOptions Extraction { get; init; } = new();
    public UrlListOptions UrlLists { get; init; } = new();
    public ImageOptions Images { get; init; } = new();
    public DedupeOptions Dedupe { get; init; } = new();
    public ShardWriterOptions Shards { get; init; } = new();
    public DownloaderOptions Downloader { get; init; } = new();

    /// <summary>Identify the language of pages that declare none (<see cref="StopwordLanguageDetector"/>) so the language filter applies to them.</summary>
    public bool DetectLanguage { get; init; } = true;

    /// <summary>
    /// Where extraction spools candidates and text before the shards are written, in a subfolder named after
    /// the job (default: under the system temp folder). The subfolder is removed after a successful run.
    /// </summary>
    public string? WorkDirectory { get; init; }
}

/// <param name="Phase"><see cref="IngestRun.ExtractPhase"/> (units: input bytes) or <see cref="IngestRun.ShardPhase"/> (units: samples attempted).</param>
public readonly record struct IngestRunProgress(string Phase, long Done, long Total, string Detail);

/// <param name="Funnel">Extraction's stages followed by <see cref="IngestRun.ShardStage"/>, over every shard of the job.</param>
public sealed record IngestRunSummary(
    string JobId,
    long InputBytes,
    long Pages,
    long PairsAccepted,
    long TextDocuments,
    DatasetRunSummary Shards,
    int ShardCount,
    FunnelStats Funnel);

/// <summary>
/// `platform ingest run`: web dumps and URL lists to WebDataset shards in one process. Extraction spools
/// the accepted pairs to a work folder; each is then attempted with its bytes read back out of the dump
/// when the dump holds the image, or downloaded otherwise. The job id is derived from the inputs, so a
/// rerun after a crash resumes the same job and redoes only the shards that were not committed.
/// Besides the shards, the store gets <c>text-{job}.jsonl</c> (cleaned page text) and
/// <c>funnel-{job}.json</c> (every stage's counts and rejections by reason).
/// </summary>
public static class IngestRun
{
    public const string ExtractPhase = "extract";
    public const string ShardPhase = "shards";
    /// <summary>Funnel stage of the image attempts: fetch failures, image checks and dedupe by reason.</summary>
    public const string ShardStage = "shards";

    public static string TextFileName(string jobId) => $"text-{jobId}.jsonl";
    public static string FunnelFileName(string jobId) => $"funnel-{jobId}.json";

    public static async Task<IngestRunSummary> RunAsync(IReadOnlyList<string> inputs, IDatasetStore store, IngestRunOptions options,
        IProgress<IngestRunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (inputs.Count == 0) throw new ArgumentException("at least one input is needed", nameof(inputs));
        foreach (var input in inputs)
            if (!File.Exists(input)) throw new FileNotFoundException($"Input not found: {input}", input);
        var jobId = JobIdFor(inputs, options);
        // A folder of the job's own: it is wiped at the start and removed at the end.
        var work = Path.Combine(options.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "platform-ingest-run"), jobId);
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);

        var images = new InProcessImageIndex();
        var (inputBytes, pages, accepted, texts, extractionStats) = await ExtractAsync(inputs, work, images, options, progress, cancellationToken);

        var origins = new ImageOrigins();
        DatasetRunSummary shards;
        using (var spool = SpoolSequentialDumps(Path.Combine(work, "candidates.jsonl"), Path.Combine(work, "sequential-images.bin"), images, options,
                   cancellationToken))
        using (var downloader = new HttpImageDownloader(options.Downloader))
        {
            long attempted = 0;
            var source = new DumpOrWebImageSource(images, downloader, options.Extraction.Warc, options.Images.MaxBytes, spool)
            {
                Attempted = () =>
                {
                    var done = Interlocked.Increment(ref attempted);
                    progress?.Report(new IngestRunProgress(ShardPhase, done, accepted, "images"));
                },
            };
            var processor = new ImageProcessor(options.Images);
            var writer = new ImageDatasetWriter(store, source, processor, DedupeFilter.CreateInProcess(options.Dedupe, processor), options.Shards);
            progress?.Report(new IngestRunProgress(ShardPhase, 0, accepted, "images"));
            shards = await writer.RunAsync(ReadAccepted(Path.Combine(work, "candidates.jsonl"), origins), jobId, cancellationToken);
        }

        var shardCount = (int)((accepted + options.Shards.SamplesPerShard - 1) / options.Shards.SamplesPerShard);
        // From the candidates rather than the attempts, so the counts cover shards committed by an earlier run too.
        var funnel = await FunnelAsync(extractionStats, store, shards.FirstShard, shardCount, origins.InDump, origins.FromWeb, cancellationToken);

        await store.WriteFileAsync(TextFileName(jobId), async s =>
        {
            await using var text = File.OpenRead(Path.Combine(work, "text.jsonl"));
            await text.CopyToAsync(s, cancellationToken);
        }, cancellationToken);
        await WriteFunnelAsync(store, jobId, funnel, cancellationToken);
        Directory.Delete(work, recursive: true);
        return new IngestRunSummary(jobId, inputBytes, pages, accepted, texts, shards, shardCount, funnel);
    }

    /// <summary>
    /// The funnel of a job as a run writes it: extraction's stages, then <see cref="ShardStage"/> over every shard of
    /// the job, with where the kept pairs' images come from (the dump or the web) as notes.
    /// </summary>
    public static async Task<FunnelStats> FunnelAsync(FunnelStats extraction, IDatasetStore store, int firstShard, int shardCount,
        long imagesInDump, long imagesFromWeb, CancellationToken cancellationToken)
    {
        var funnel = new FunnelStats();
        funnel.Merge(extraction);
        await AddShardStageAsync(funnel, store, firstShard, shardCount, cancellationToken);
        funnel.Note(ShardStage, "image_in_dump", imagesInDump);
        funnel.Note(ShardStage, "image_from_web", imagesFromWeb);
        return funnel;
    }

    public static Task WriteFunnelAsync(IDatasetStore store, string jobId, FunnelStats funnel, CancellationToken cancellationToken) =>
        store.WriteFileAsync(FunnelFileName(jobId), s => s.WriteAsync(Encoding.UTF8.GetBytes(funnel.ToJson()), cancellationToken).AsTask(), cancellationToken);

    /// <summary>
    /// Same inputs (by name, size and a digest of their first and last MiB) and the same settings of every
    /// stage that decides what lands in which shard give the same id; extraction is deterministic, so a
    /// rerun lines every pair up with the shard it had. Changed settings make a new job rather than mixing.
    /// </summary>
    public static string JobIdFor(IReadOnlyList<string> inputs, IngestRunOptions options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(OutputSettings(options)));
        var buffer = new byte[1 << 20];
        foreach (var input in inputs)
        {
            hash.AppendData(Encoding.UTF8.GetBytes("\n" + Path.GetFileName(input) + "\n"));
            using var file = File.OpenRead(input);
            hash.AppendData(BitConverter.GetBytes(file.Length));
            hash.AppendData(buffer, 0, file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false));
            if (file.Length > buffer.Length)
            {
                file.Position = file.Length - buffer.Length;
                hash.AppendData(buffer, 0, file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false));
            }
        }
        return "run-" + Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>
    /// The settings that shape the dataset, as canonical JSON. String lists in them are sets (languages,
    /// boilerplate words) whose order follows per-process string hashing, so they are sorted.
    /// </summary>
    private static string OutputSettings(IngestRunOptions options)
    {
        var node = JsonSerializer.SerializeToNode(new
        {
            options.Extraction,
            options.UrlLists,
            options.Images,
            options.Dedupe,
            options.Shards.SamplesPerShard,
            options.DetectLanguage,
        })!;
        SortStringSets(node);
        return node.ToJsonString();
    }

    private static void SortStringSets(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, child) in obj) SortStringSets(child);
                break;
            case JsonArray array when array.All(item => item is JsonValue value && value.GetValueKind() == JsonValueKind.String):
                var sorted = array.Select(item => item!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
                array.Clear();
                foreach (var item in sorted) array.Add(item);
                break;
            case JsonArray array:
                foreach (var child in array) SortStringSets(child);
                break;
        }
    }

    private static async Task<(long Bytes, long Pages, long Accepted, long Texts, FunnelStats Stats)> ExtractAsync(
        IReadOnlyList<string> inputs, string work, InProcessImageIndex images, IngestRunOptions options,
        IProgress<IngestRunProgress>? progress, CancellationToken cancellationToken)
    {
        var totalBytes = inputs.Sum(i => new FileInfo(i).Length);
        var sink = new CountingSink(new JsonLinesSink(work));
        try
        {
            using var run = new ExtractionRun(options.Extraction, sink, new FileCandidateSpool(Path.Combine(work, "spool.jsonl")), images: images,
                languageDetector: options.DetectLanguage ? new StopwordLanguageDetector() : null);
            long bytes = 0;
            foreach (var input in inputs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var completed = bytes;
                var perFile = progress is null ? null : new InlineProgress<ExtractionProgress>(p =>
                    progress.Report(new IngestRunProgress(ExtractPhase, completed + p.BytesRead, totalBytes, $"{p.Pages} pages, {p.Pairs} pairs")));
                await using var stream = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                if (UrlListOptions.FormatOf(input) is { } format)
                    await UrlListReader.AddAsync(run, stream, format, input, options.UrlLists, cancellationToken);
                else
                    run.AddWarc(stream, input, perFile, cancellationToken);
                bytes += new FileInfo(input).Length;
            }
            run.Finish(cancellationToken);
            progress?.Report(new IngestRunProgress(ExtractPhase, totalBytes, totalBytes, $"{run.Pages} pages, {run.PairsKept} pairs"));
            return (bytes, run.Pages, run.PairsKept, sink.Texts, run.Stats);
        }
        finally
        {
            sink.Dispose();
        }
    }

    /// <summary>Copies the accepted images of whole-file gzip inputs out in one pass per input (see <see cref="SequentialDumpSpool"/>).</summary>
    private static SequentialDumpSpool SpoolSequentialDumps(string acceptedPath, string spoolPath, InProcessImageIndex images,
        IngestRunOptions options, CancellationToken cancellationToken) =>
        SequentialDumpSpool.ForCandidates(spoolPath, ReadAccepted(acceptedPath, new ImageOrigins()), images, options.Extraction.Warc,
            options.Images.MaxBytes, cancellationToken);

    private sealed class ImageOrigins
    {
        public long InDump;
        public long FromWeb;
    }

    private static IEnumerable<ImageCandidate> ReadAccepted(string path, ImageOrigins origins)
    {
        using var reader = new StreamReader(path);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            var pair = PairCandidate.ReadJson(doc.RootElement);
            if (pair.ImageInDump) origins.InDump++;
            else origins.FromWeb++;
            yield return new ImageCandidate(pair.ImageUrl, pair.AltText!);
        }
    }

    /// <summary>Counts from every shard of the job, committed by this run or an earlier one.</summary>
    private static async Task AddShardStageAsync(FunnelStats funnel, IDatasetStore store, int firstShard, int shardCount, CancellationToken cancellationToken)
    {
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
    }
}
