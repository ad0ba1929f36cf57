using Platform.Ingestion.Fetching;
using Platform.Ingestion.Http;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Runs;

/// <summary>Reason codes for images whose bytes should have come from the dump but could not be read there.</summary>
public static class DumpReasons
{
    public const string RecordMissing = "dump_record_missing";
    public const string RecordMismatch = "dump_record_mismatch";
    public const string MalformedHttp = "dump_malformed_http";
    public const string Unreadable = "dump_unreadable";
}

/// <summary>
/// Reads one image response back out of a WARC by the position extraction recorded: per-record gzip files
/// are entered at the record's gzip member, uncompressed files at the record's offset; whole-file gzip has
/// no member per record, so it is read from the start up to the record. A dump in blob storage is read the same way,
/// by a download from the record's position (<see cref="DumpInputs"/>).
/// </summary>
public static class DumpedImageReader
{
    public static FetchResult Read(DumpedImage image, WarcReaderOptions warcOptions, int maxBodyBytes, DumpInputs? inputs = null)
    {
        try
        {
            // Per-record gzip: the record's member; otherwise a whole-file gzip is inflated from the start, and a plain file entered at the record.
            var start = image.CompressedOffset >= 0 ? image.CompressedOffset : IsGzip(image.Source, inputs) ? 0 : image.Offset;
            // After a seek, offsets count from the seek position.
            var offsetWanted = start == 0 ? image.Offset : 0;
            using var file = (inputs ?? DumpInputs.LocalOnly).Open(image.Source, start);
            using var reader = new WarcReader(file.Stream, new FunnelStats(), warcOptions, leaveOpen: true);
            foreach (var record in reader.ReadAll())
            {
                if (record.Offset < offsetWanted) continue;
                if (record.Offset != offsetWanted || (image.RecordId is not null && record.RecordId != image.RecordId))
                    return FetchResult.Failure(DumpReasons.RecordMismatch, $"{image.Source}@{image.Offset}: another record is there");
                return Decode(record, maxBodyBytes);
            }
            return FetchResult.Failure(DumpReasons.RecordMissing, $"{image.Source}@{image.Offset}: no record");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or Azure.RequestFailedException)
        {
            return FetchResult.Failure(DumpReasons.Unreadable, $"{image.Source}: {e.Message}");
        }
    }

    /// <summary>
    /// Whether reading this image back means inflating its file from the start: a gzip file where the record
    /// does not start a gzip member of its own (whole-file gzip).
    /// </summary>
    public static bool NeedsSequentialRead(DumpedImage image, Func<string, bool> isGzip) => image.CompressedOffset < 0 && isGzip(image.Source);

    public static bool IsGzip(string path) => IsGzip(path, null);

    public static bool IsGzip(string path, DumpInputs? inputs)
    {
        using var file = (inputs ?? DumpInputs.LocalOnly).Open(path);
        return file.Stream.ReadByte() == 0x1f && file.Stream.ReadByte() == 0x8b;
    }

    internal static FetchResult Decode(WarcRecord record, int maxBodyBytes)
    {
        if (!record.IsHttp) return FetchResult.Success(record.Block.ToArray());
        if (!HttpResponse.TryParse(record.Block.Span, out var response))
            return FetchResult.Failure(DumpReasons.MalformedHttp, record.RecordId ?? "");
        return HttpBody.TryDecode(response, record.Block[response.BodyOffset..], maxBodyBytes, out var body, out var failure)
            ? FetchResult.Success(body.ToArray())
            : FetchResult.Failure(failure ?? DumpReasons.MalformedHttp, record.RecordId ?? "");
    }
}

/// <summary>
/// Images of whole-file gzip dumps, copied out in one sequential pass per file: such a file has no gzip
/// member per record to seek to, so reading each image on its own would inflate the file once per image.
/// Reads may come from any thread.
/// </summary>
public sealed class SequentialDumpSpool : IDisposable
{
    private readonly FileStream spool;
    private readonly Dictionary<string, (long Offset, int Length)> copied = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FetchResult> failed = new(StringComparer.Ordinal);

    public SequentialDumpSpool(string path) =>
        spool = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 1 << 16, FileOptions.DeleteOnClose);

    /// <summary>A spool holding the images of <paramref name="candidates"/> that sit in whole-file gzip dumps, one pass per dump.</summary>
    public static SequentialDumpSpool ForCandidates(string path, IEnumerable<ImageCandidate> candidates, IImageIndex images,
        WarcReaderOptions warcOptions, int maxBodyBytes, CancellationToken cancellationToken, DumpInputs? inputs = null)
    {
        var gzip = new Dictionary<string, bool>(StringComparer.Ordinal);
        bool IsGzip(string source) => gzip.TryGetValue(source, out var known) ? known : gzip[source] = DumpedImageReader.IsGzip(source, inputs);
        var wanted = new Dictionary<string, Dictionary<long, DumpedImage>>(StringComparer.Ordinal);
        foreach (var candidate in candidates)
        {
            if (!images.TryGet(candidate.Url, out var image) || image is null) continue;
            if (!DumpedImageReader.NeedsSequentialRead(image, IsGzip)) continue;
            if (!wanted.TryGetValue(image.Source, out var bySource)) wanted[image.Source] = bySource = [];
            bySource.TryAdd(image.Offset, image);
        }
        var spool = new SequentialDumpSpool(path);
        foreach (var (source, bySource) in wanted)
            spool.Collect(source, bySource.Values, warcOptions, maxBodyBytes, cancellationToken, inputs);
        return spool;
    }

    public int Count => copied.Count + failed.Count;

    /// <summary>Copies the given images (all from <paramref name="source"/>) in one pass over it. Not thread-safe.</summary>
    public void Collect(string source, IReadOnlyCollection<DumpedImage> images, WarcReaderOptions warcOptions, int maxBodyBytes,
        CancellationToken cancellationToken, DumpInputs? inputs = null)
    {
        var wanted = images.ToDictionary(i => i.Offset);
        using (var file = (inputs ?? DumpInputs.LocalOnly).Open(source))
        using (var reader = new WarcReader(file.Stream, new FunnelStats(), warcOptions, leaveOpen: true))
            foreach (var record in reader.ReadAll(cancellationToken))
            {
                if (!wanted.Remove(record.Offset, out var image)) continue;
                if (image.RecordId is not null && record.RecordId != image.RecordId)
                {
                    failed[image.Url] = FetchResult.Failure(DumpReasons.RecordMismatch, $"{source}@{image.Offset}: another record is there");
                    continue;
                }
                var result = DumpedImageReader.Decode(record, maxBodyBytes);
                if (result.Payload is { } payload)
                {
                    spool.Seek(0, SeekOrigin.End);
                    copied[image.Url] = (spool.Position, payload.Length);
                    spool.Write(payload);
                }
                else failed[image.Url] = result;
                if (wanted.Count == 0) break;
            }
        foreach (var missing in wanted.Values)
            failed[missing.Url] = FetchResult.Failure(DumpReasons.RecordMissing, $"{source}@{missing.Offset}: no record");
        spool.Flush();
    }

    public bool TryRead(string url, out FetchResult result)
    {
        if (failed.TryGetValue(url, out result)) return true;
        if (!copied.TryGetValue(url, out var at)) return false;
        var payload = new byte[at.Length];
        RandomAccess.Read(spool.SafeFileHandle, payload, at.Offset);
        result = FetchResult.Success(payload);
        return true;
    }

    public void Dispose() => spool.Dispose();
}

/// <summary>
/// Bytes from the dump for images it holds, from the web otherwise. The dump is read only when a sample is
/// attempted, so shards committed by an earlier run cost nothing and no payload waits in memory.
/// </summary>
public sealed class DumpOrWebImageSource(IImageIndex dump, IImageSource web, WarcReaderOptions warcOptions, int maxBodyBytes,
    SequentialDumpSpool? spooled = null, DumpInputs? inputs = null) : IImageSource
{
    /// <summary>Called after each attempt, from any thread.</summary>
    public Action? Attempted { get; init; }

    public async Task<FetchResult> FetchAsync(ImageCandidate candidate, CancellationToken cancellationToken)
    {
        try
        {
            if (candidate.EmbeddedBytes is { } embedded) return FetchResult.Success(embedded);
            if (spooled is not null && spooled.TryRead(candidate.Url, out var copied)) return copied;
            if (dump.TryGet(candidate.Url, out var image) && image is not null)
                return await Task.Run(() => DumpedImageReader.Read(image, warcOptions, maxBodyBytes, inputs), cancellationToken);
            return await web.FetchAsync(candidate, cancellationToken);
        }
        finally
        {
            Attempted?.Invoke();
        }
    }
}
