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
using Platform.Ingestion.Stages;

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

    /// <summary>Identify the language of pages that declare none and of every alt text (<see cref="LinguaLanguageDetector"/>) so the language filter applies to them.</summary>
    public bool DetectLanguage { get; init; } = true;

    /// <summary>
    /// Where extraction spools candidates and text before the shards are written, in a subfolder named after
    /// the job (default: under the system temp folder). The subfolder is removed after a successful run.
    /// </summary>
    public string? WorkDirectory { get; init; }
}

/// <param name="Phase"><see cref="IngestRun.ExtractPhase"/> (units: input bytes) or <see cref="IngestRun.ShardPhase"/> (units: samples attempted).</param>
public readonly record struct IngestRunProgress(string Phase, long Done, long Total, string Detail);

/// <param name="Funnel">Extraction's stages followed by <see cref="FunnelStage.ShardStage"/>, over every shard of the job.</param>
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
/// `platform ingest run`: web dumps and URL lists to WebDataset shards in one process, the in-process executor of the
/// ingestion stages (in-memory counts, image index and dedupe claims; the grains are the cluster's). Extraction spools
/// the accepted pairs to a work folder; the shard stages then run shard by shard (<see cref="InProcessShardPhase"/>), each pair
/// attempted with its bytes read back out of the dump when the dump holds the image, or downloaded otherwise. The job id is derived from the inputs, so a
/// rerun after a crash resumes the same job and redoes only the shards that were not committed.
/// Besides the shards, the store gets the job's cleaned page text and funnel (<see cref="FunnelStage"/>).
/// </summary>
public static class IngestRun
{
    public const string ExtractPhase = "extract";
    public const string ShardPhase = "shards";

    public static async Task<IngestRunSummary> RunAsync(IReadOnlyList<string> inputs, IDatasetStore store, IngestRunOptions options,
        IProgress<IngestRunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (inputs.Count == 0) throw new ArgumentException("at least one input is needed", nameof(inputs));
        foreach (var input in inputs)
            if (!File.Exists(input)) throw new FileNotFoundException($"Input not found: {input}", input);
        var jobId = JobIdFor(inputs, options);
        // A folder of the job's own: it is wiped at the start and removed at the end.
        var work = new IngestJobLayout(Path.Combine(options.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "platform-ingest-run"), jobId));
        if (Directory.Exists(work.Root)) Directory.Delete(work.Root, recursive: true);
        Directory.CreateDirectory(work.Root);

        var images = new InProcessImageIndex();
        var (inputBytes, pages, accepted, texts, extractionStats) = await ExtractAsync(inputs, work, images, options, progress, cancellationToken);

        var origins = new ImageOrigins();
        DatasetRunSummary shards;
        using (var spool = SpoolSequentialDumps(work.Candidates, work.SequentialImages, images, options,
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
            var phase = new InProcessShardPhase(store, source, new ImageProcessor(options.Images), options.Dedupe, options.Shards, work);
            progress?.Report(new IngestRunProgress(ShardPhase, 0, accepted, "images"));
            shards = await phase.RunAsync(ReadAccepted(work.Candidates, origins), jobId, cancellationToken);
        }

        var shardCount = (int)((accepted + options.Shards.SamplesPerShard - 1) / options.Shards.SamplesPerShard);
        // From the candidates rather than the attempts, so the counts cover shards committed by an earlier run too.
        var funnel = await FunnelStage.FunnelAsync(extractionStats, store, shards.FirstShard, shardCount, origins.InDump, origins.FromWeb,
            cancellationToken);

        await FunnelStage.WriteTextAsync(store, work.Text, jobId, cancellationToken);
        await FunnelStage.WriteFunnelAsync(store, jobId, funnel, cancellationToken);
        Directory.Delete(work.Root, recursive: true);
        return new IngestRunSummary(jobId, inputBytes, pages, accepted, texts, shards, shardCount, funnel);
    }

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
        IReadOnlyList<string> inputs, IngestJobLayout work, InProcessImageIndex images, IngestRunOptions options,
        IProgress<IngestRunProgress>? progress, CancellationToken cancellationToken)
    {
        var totalBytes = inputs.Sum(i => new FileInfo(i).Length);
        var sink = new CountingSink(new JsonLinesSink(work.Root));
        try
        {
            using var run = new ExtractionRun(options.Extraction, sink, new FileCandidateSpool(work.Spool), images: images,
                languageDetector: options.DetectLanguage ? LinguaLanguageDetector.ForAllowedLanguages(options.Extraction.AltText.Languages) : null);
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
            var kept = FrequencyFilterStage.RunInProcess(run, sink, cancellationToken);
            progress?.Report(new IngestRunProgress(ExtractPhase, totalBytes, totalBytes, $"{run.Pages} pages, {kept} pairs"));
            return (bytes, run.Pages, kept, sink.Texts, run.Stats);
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
        foreach (var pair in PairCandidate.ReadJsonLines(path))
        {
            if (pair.ImageInDump) origins.InDump++;
            else origins.FromWeb++;
            yield return new ImageCandidate(pair.ImageUrl, pair.AltText!);
        }
    }
}
