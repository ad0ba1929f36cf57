using System.Text.Json;
using Platform.Datasets;
using Platform.Ingestion.Crawling;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Images;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;

namespace Platform.Ingestion.Stages;

/// <summary>
/// A sample of a shard as attempted, before dedupe: the fetch or image-check failure, or the accepted image's
/// description and where its stored JPEG lies in the attempt's <see cref="FetchFolder.Images"/>.
/// </summary>
public sealed record AttemptedSample(
    string Url,
    string Caption,
    string? Status,
    string? Reason,
    int? Width = null,
    int? Height = null,
    int? OriginalWidth = null,
    int? OriginalHeight = null,
    string? Sha256 = null,
    ulong PerceptualHash = 0,
    long ImageOffset = 0,
    int ImageLength = 0)
{
    public bool HasImage => Sha256 is not null;
}

/// <summary>
/// The first step of a shard whose samples are deduped job-wide (the cluster's shard phase): its kept pairs, cut from
/// the job's candidates.jsonl as one process cuts them, are fetched and checked into a folder of their own. Once every
/// shard of the job is fetched, <see cref="DedupeStage"/> decides dedupe for all of them and <see cref="WriteShardStage"/>
/// writes each shard from its folder and the verdicts. In one process (<see cref="InProcessShardPhase"/>) the same three stages
/// run shard by shard.
/// </summary>
public static class FetchShardStage
{
    /// <summary>Reason when the image source threw instead of reporting a failure.</summary>
    public const string SourceError = "source_error";

    /// <summary>Reason when the image checks threw instead of rejecting.</summary>
    public const string ProcessingError = "processing_error";

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    /// <summary>
    /// Fetches and checks shard <paramref name="shard"/> (0-based within the job) of the kept pairs in <paramref name="layout"/>'s
    /// candidates.jsonl into <paramref name="directory"/>, reading the images the dumps hold back out of them and downloading the
    /// others. Pairs whose URL an earlier shard has (<see cref="DedupeStage.FindUrlDuplicatesAsync"/>) are not fetched.
    /// </summary>
    /// <param name="inputs">Reads the images found in the job's dumps back out of them (local files or blobs).</param>
    /// <param name="politeness">Per-host spacing, robots.txt and circuit shared beyond this fetch (the cluster's); default: the downloader's own.</param>
    public static async Task<IReadOnlyList<AttemptedSample>> RunAsync(IngestJobLayout layout, int shard, string directory, IngestRunOptions options,
        DumpInputs inputs, CancellationToken cancellationToken, IHostPoliteness? politeness = null)
    {
        var size = options.Shards.SamplesPerShard;
        var candidates = File.ReadLines(layout.Candidates).Where(line => line.Length > 0)
            .Skip(shard * size).Take(size)
            .Select(line =>
            {
                using var document = JsonDocument.Parse(line);
                var pair = PairCandidate.ReadJson(document.RootElement);
                return new ImageCandidate(pair.ImageUrl, pair.AltText!);
            }).ToList();
        var wanted = candidates.Select(c => c.Url).ToHashSet(StringComparer.Ordinal);
        var dumped = new InProcessImageIndex();
        foreach (var line in File.ReadLines(layout.Images))
        {
            if (line.Length == 0) continue;
            using var document = JsonDocument.Parse(line);
            if (wanted.Contains(document.RootElement.GetProperty("url").GetString()!)) dumped.Add(DumpedImage.ReadJson(document.RootElement));
        }
        var spoolPath = Path.Combine(Path.GetTempPath(), $"platform-shard-{Guid.NewGuid():N}.bin");
        using var spool = SequentialDumpSpool.ForCandidates(spoolPath, candidates, dumped, options.Extraction.Warc, options.Images.MaxBytes, cancellationToken,
            inputs);
        using var downloader = new HttpImageDownloader(options.Downloader, politeness: politeness);
        var source = new DumpOrWebImageSource(dumped, downloader, options.Extraction.Warc, options.Images.MaxBytes, spool, inputs);
        var first = (long)shard * size;
        var urlDuplicates = File.ReadLines(layout.UrlDuplicates).Select(long.Parse)
            .Where(position => position >= first && position < first + size).Select(position => (int)(position - first)).ToHashSet();
        return await FetchAsync(candidates, source, new ImageProcessor(options.Images), options.Dedupe, options.Shards, directory, cancellationToken,
            urlDuplicates);
    }

    /// <summary>
    /// Fetches and checks every candidate (in parallel, a window at a time) into <paramref name="directory"/>, which
    /// is emptied first. A URL seen earlier in the shard, or one of <paramref name="knownUrlDuplicates"/> (indices
    /// of candidates whose URL an earlier shard has), is not fetched: the earlier sample wins it whatever happens.
    /// </summary>
    public static async Task<IReadOnlyList<AttemptedSample>> FetchAsync(IReadOnlyList<ImageCandidate> candidates, IImageSource source,
        ImageProcessor processor, DedupeOptions dedupe, ShardWriterOptions options, string directory, CancellationToken cancellationToken,
        IReadOnlySet<int>? knownUrlDuplicates = null)
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        Directory.CreateDirectory(directory);
        var attempted = new List<AttemptedSample>(candidates.Count);
        var seenUrls = new HashSet<UInt128>();
        var window = Math.Max(1, options.MaxParallelism * options.WindowPerWorker);
        var folder = new FetchFolder(directory);
        await using var images = new FileStream(folder.Images, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        await using var samples = new StreamWriter(folder.Samples) { NewLine = "\n" };
        for (var start = 0; start < candidates.Count; start += window)
        {
            var count = Math.Min(window, candidates.Count - start);
            var records = new SampleRecord[count];
            var fetch = new List<int>(count);
            for (var i = 0; i < count; i++)
            {
                var candidate = candidates[start + i];
                records[i] = new SampleRecord { Url = candidate.Url, Caption = candidate.Caption };
                if (dedupe.ByUrl && (!seenUrls.Add(DedupeKeys.OfUrl(candidate.Url)) || knownUrlDuplicates?.Contains(start + i) == true))
                    Mark(records[i], SampleStatus.Duplicate, DedupeReasons.DuplicateUrl);
                else fetch.Add(i);
            }
            var processed = new ProcessedImage?[count];
            await Parallel.ForEachAsync(fetch, new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelism, CancellationToken = cancellationToken },
                async (i, ct) => processed[i] = await FetchAndCheckAsync(source, processor, candidates[start + i], records[i], ct));
            for (var i = 0; i < count; i++)
            {
                var record = records[i];
                AttemptedSample sample;
                if (processed[i] is { } image)
                {
                    sample = new AttemptedSample(record.Url, record.Caption, null, null, image.Width, image.Height, image.OriginalWidth, image.OriginalHeight,
                        image.Sha256, image.PerceptualHash, images.Position, image.Jpeg.Length);
                    await images.WriteAsync(image.Jpeg, cancellationToken);
                }
                else sample = new AttemptedSample(record.Url, record.Caption, record.Status, record.ErrorMessage);
                attempted.Add(sample);
                await samples.WriteLineAsync(JsonSerializer.Serialize(sample, Json));
            }
        }
        return attempted;
    }

    public static IReadOnlyList<AttemptedSample> ReadSamples(string directory) =>
        [.. File.ReadLines(new FetchFolder(directory).Samples).Where(line => line.Length > 0)
            .Select(line => JsonSerializer.Deserialize<AttemptedSample>(line, Json) ?? throw new InvalidDataException($"null sample in {directory}"))];

    /// <summary>The samples as dedupe sees them; <paramref name="firstPosition"/> is the job-wide position of the shard's first sample.</summary>
    public static IEnumerable<DedupeSubject> Subjects(IReadOnlyList<AttemptedSample> samples, long firstPosition) =>
        samples.Select((s, i) => new DedupeSubject(firstPosition + i, s.Url, s.Sha256, s.PerceptualHash));

    /// <summary>Fetches and checks one sample; on failure marks <paramref name="sample"/> with the reason and returns null.</summary>
    private static async Task<ProcessedImage?> FetchAndCheckAsync(IImageSource source, ImageProcessor processor, ImageCandidate candidate,
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
}
