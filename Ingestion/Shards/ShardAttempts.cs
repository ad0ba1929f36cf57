using System.Security.Cryptography;
using System.Text.Json;
using Platform.Datasets;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Images;

namespace Platform.Ingestion.Shards;

/// <summary>
/// A sample of a shard as attempted, before dedupe: the fetch or image-check failure, or the accepted image's
/// description and where its stored JPEG lies in the attempt's <see cref="ShardAttempts.ImagesFile"/>.
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

/// <summary>A shard as <see cref="ShardAttempts.WriteAsync"/> published it: its stats, and its tar's size and sha256 (hex).</summary>
public sealed record WrittenShard(ShardStats Stats, long TarBytes, string TarSha256);

/// <summary>
/// A shard in two steps, for shards attempted in parallel (the cluster's shard phase): <see cref="FetchAsync"/>
/// fetches and checks every sample into a folder of its own; once every shard of the job is fetched, dedupe is
/// decided for all of them (<see cref="FirstClaimDedupe"/>), and <see cref="WriteAsync"/> writes the shard's
/// files from the folder and the verdicts. Given the same candidates, the files are byte for byte those
/// <see cref="ImageDatasetWriter"/> writes in one pass, dedupe delta included.
/// </summary>
public static class ShardAttempts
{
    public const string SamplesFile = "samples.jsonl";
    public const string ImagesFile = "images.bin";

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

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
        await using var images = new FileStream(Path.Combine(directory, ImagesFile), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        await using var samples = new StreamWriter(Path.Combine(directory, SamplesFile)) { NewLine = "\n" };
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
                    ImageDatasetWriter.Mark(records[i], SampleStatus.Duplicate, DedupeReasons.DuplicateUrl);
                else fetch.Add(i);
            }
            var processed = new ProcessedImage?[count];
            await Parallel.ForEachAsync(fetch, new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelism, CancellationToken = cancellationToken },
                async (i, ct) => processed[i] = await ImageDatasetWriter.FetchAndCheckAsync(source, processor, candidates[start + i], records[i], ct));
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
        [.. File.ReadLines(Path.Combine(directory, SamplesFile)).Where(line => line.Length > 0)
            .Select(line => JsonSerializer.Deserialize<AttemptedSample>(line, Json) ?? throw new InvalidDataException($"null sample in {directory}"))];

    /// <summary>The samples as dedupe sees them; <paramref name="firstPosition"/> is the job-wide position of the shard's first sample.</summary>
    public static IEnumerable<DedupeSubject> Subjects(IReadOnlyList<AttemptedSample> samples, long firstPosition) =>
        samples.Select((s, i) => new DedupeSubject(firstPosition + i, s.Url, s.Sha256, s.PerceptualHash));

    /// <summary>
    /// Writes shard <paramref name="shard"/> (tar, parquet, dedupe delta, stats last) from a fetched attempt and the dedupe
    /// verdict of each of its samples, and returns its stats with the tar's size and sha256 (taken as it is written, so a
    /// shard in blob storage is not downloaded again to be committed).
    /// </summary>
    public static async Task<WrittenShard> WriteAsync(IDatasetStore dataset, int shard, string directory, IReadOnlyList<string?> verdicts,
        DedupeOptions dedupe, CancellationToken cancellationToken)
    {
        var samples = ReadSamples(directory);
        if (samples.Count != verdicts.Count) throw new InvalidDataException($"{samples.Count} samples in {directory} but {verdicts.Count} verdicts");
        var name = DatasetLayout.ShardName(shard);
        var stats = new ShardStats { Shard = name };
        var rows = new List<SampleRecord>(samples.Count);
        var delta = new DedupeDelta();
        await using var images = new FileStream(Path.Combine(directory, ImagesFile), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var tarFile = dataset.OpenPartial(DatasetLayout.TarName(shard));
        using var sha256 = SHA256.Create();
        long tarBytes;
        try
        {
            // A hash transform passes the bytes through unchanged; the tar reaches the store as written.
            await using (var hashed = new CryptoStream(tarFile, sha256, CryptoStreamMode.Write, leaveOpen: true))
            {
                await using (var tar = new WebDatasetShardWriter(hashed))
                    for (var i = 0; i < samples.Count; i++)
                    {
                        var sample = samples[i];
                        var verdict = verdicts[i];
                        var row = new SampleRecord { Url = sample.Url, Caption = sample.Caption, Key = $"{name}{i:D4}" };
                        if (verdict == DedupeReasons.DuplicateUrl) ImageDatasetWriter.Mark(row, SampleStatus.Duplicate, verdict);
                        else
                        {
                            // What DedupeFilter records: the URL once claimed, and every checked image but an exact copy.
                            if (dedupe.ByUrl) delta.UrlKeys.Add(DedupeKeys.OfUrl(sample.Url));
                            if (!sample.HasImage) ImageDatasetWriter.Mark(row, sample.Status!, sample.Reason!);
                            else
                            {
                                Describe(row, sample);
                                var exactCopy = dedupe.ByImageBytes && verdict == DedupeReasons.DuplicateImageBytes;
                                if (dedupe.ByImageBytes && !exactCopy) delta.ImageKeys.Add(DedupeKeys.OfSha256Hex(sample.Sha256!));
                                if (dedupe.MaxImageHammingDistance is not null && !exactCopy) delta.ImageHashes.Add(sample.PerceptualHash);
                                if (verdict is not null) ImageDatasetWriter.Mark(row, SampleStatus.Duplicate, verdict);
                                else
                                {
                                    row.Status = SampleStatus.Success;
                                    var jpeg = new byte[sample.ImageLength];
                                    await RandomAccess.ReadAsync(images.SafeFileHandle, jpeg, sample.ImageOffset, cancellationToken);
                                    await tar.WriteSampleAsync(row, jpeg, cancellationToken);
                                }
                            }
                        }
                        rows.Add(row);
                        stats.Count(row);
                    }
                await hashed.FlushFinalBlockAsync(cancellationToken);
                // A partial file starts empty, so where it stands is what was written.
                tarBytes = tarFile.Position;
            }
            await dataset.PublishAsync(tarFile, DatasetLayout.TarName(shard), cancellationToken);
        }
        catch
        {
            await tarFile.DisposeAsync();
            throw;
        }
        await ImageDatasetWriter.PublishShardRestAsync(dataset, shard, rows, delta, stats, cancellationToken);
        return new WrittenShard(stats, tarBytes, Convert.ToHexStringLower(sha256.Hash!));
    }

    private static void Describe(SampleRecord row, AttemptedSample sample)
    {
        row.Width = sample.Width;
        row.Height = sample.Height;
        row.OriginalWidth = sample.OriginalWidth;
        row.OriginalHeight = sample.OriginalHeight;
        row.Sha256 = sample.Sha256;
        row.Phash = sample.PerceptualHash.ToString("x16");
    }
}
