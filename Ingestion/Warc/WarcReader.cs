using System.Diagnostics.CodeAnalysis;
using System.Text;
using Platform.Ingestion.Pipeline;

namespace Platform.Ingestion.Warc;

public sealed class WarcReaderOptions
{
    /// <summary>Records with a larger block are skipped and counted as `record_too_large` (default 16 MiB); this bounds memory.</summary>
    public int MaxRecordBytes { get; init; } = 16 << 20;

    /// <summary>A header block longer than this is malformed (default 64 KiB).</summary>
    public int MaxHeaderBytes { get; init; } = 64 << 10;

    /// <summary>Check `WARC-Block-Digest` and `WARC-Payload-Digest` (sha1) and count mismatches (default on).</summary>
    public bool CheckDigests { get; init; } = true;
}

/// <summary>
/// Streaming WARC 1.0/1.1 reader for per-record gzip, whole-file gzip or uncompressed files.
/// Damage (garbage, malformed headers, wrong Content-Length, truncation, corrupt gzip members) is
/// counted in <see cref="FunnelStats"/> under stage <see cref="Stage"/> and skipped; reading resumes
/// at the next record. Memory stays within about twice <see cref="WarcReaderOptions.MaxRecordBytes"/>.
/// </summary>
public sealed class WarcReader : IDisposable
{
    public const string Stage = "warc_records";
    private static ReadOnlySpan<byte> Magic => "WARC/"u8;

    private readonly IWarcByteSource source;
    private readonly FunnelStats stats;
    private readonly WarcReaderOptions options;
    private readonly Queue<(long At, long Compressed)> memberStarts = new();
    private byte[] window = new byte[1 << 16];
    private long windowBase;
    private int end;
    private long position;
    private bool sourceEnded;

    private readonly Stream input;
    private readonly bool leaveOpen;

    /// <param name="inputOffset">
    /// Where in its file <paramref name="input"/> begins, when it is a byte range of the file (a work unit): gzip member offsets
    /// (<see cref="WarcRecord.CompressedOffset"/>) and, in an uncompressed file, record offsets are then the file's own. In a gzip
    /// file the decompressed offset of the range is unknown; records count from it (<see cref="DecompressedStart"/> is 0).
    /// </param>
    public WarcReader(Stream input, FunnelStats stats, WarcReaderOptions? options = null, bool leaveOpen = false, long inputOffset = 0)
    {
        this.input = input;
        this.leaveOpen = leaveOpen;
        this.stats = stats;
        this.options = options ?? new WarcReaderOptions();
        source = IWarcByteSource.Open(input, stats, this.options.MaxRecordBytes + this.options.MaxHeaderBytes, inputOffset);
        windowBase = position = DecompressedStart = source is PlainSource ? inputOffset : 0;
    }

    /// <summary>Bytes of the (compressed) input consumed so far, counted from the file's start.</summary>
    public long BytesConsumed => source.CompressedPosition;

    /// <summary>The decompressed offset that <see cref="WarcRecord.Offset"/> of the input's first byte has.</summary>
    public long DecompressedStart { get; }

    /// <summary>Decompressed bytes read so far; once every record is read, the decompressed length of the input.</summary>
    public long DecompressedBytes => windowBase + end - DecompressedStart;

    /// <summary>Observed on every refill, so a long scan through damage (resynchronising) stops when asked, not at the next record.</summary>
    private CancellationToken cancellation;

    public IEnumerable<WarcRecord> ReadAll(CancellationToken cancellationToken = default)
    {
        cancellation = cancellationToken;
        while (TryRead(out var record))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return record;
        }
    }

    public bool TryRead([NotNullWhen(true)] out WarcRecord? record)
    {
        while (true)
        {
            if (!SkipLineBreaks())
            {
                record = null;
                return false;
            }
            var start = position;
            if (!StartsWithMagic(start))
            {
                if (!Available(start, Magic.Length)) { stats.Reject(Stage, "trailing_garbage"); record = null; return false; }
                Resync(start + 1, "garbage_between_records");
                continue;
            }
            var outcome = TryParseRecord(start, out record);
            if (outcome == Outcome.Record && record is not null) return true;
            if (outcome == Outcome.End) return false;
        }
    }

    private enum Outcome { Record, Skipped, End }

    private Outcome TryParseRecord(long start, out WarcRecord? record)
    {
        record = null;
        stats.Enter(Stage);
        var fields = new Http.HeaderFields();
        string? version = null;
        var cursor = start;
        while (true)
        {
            var lineEnd = FindLineEnd(cursor, start);
            if (lineEnd < 0)
            {
                Resync(start + 1, sourceEnded && Index(cursor) >= end ? "truncated_record" : "malformed_header");
                return Outcome.Skipped;
            }
            // Checked on every line, not only when the window is refilled: a window already grown by an
            // earlier large record could otherwise hold a header of millions of lines.
            if (lineEnd - start > options.MaxHeaderBytes)
            {
                Resync(start + 1, "malformed_header");
                return Outcome.Skipped;
            }
            var line = Line(cursor, lineEnd);
            cursor = lineEnd + 1;
            if (line.IsEmpty) break;
            if (version is null)
            {
                version = Encoding.ASCII.GetString(line).Trim();
                continue;
            }
            if ((line[0] == (byte)' ' || line[0] == (byte)'\t') && fields.Continue(Encoding.UTF8.GetString(line).Trim()))
                continue;
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                Resync(start + 1, "malformed_header");
                return Outcome.Skipped;
            }
            fields.Add(Encoding.ASCII.GetString(line[..colon]).Trim(), Encoding.UTF8.GetString(line[(colon + 1)..]).Trim());
        }
        var headers = new WarcHeaders(fields.ToList());
        if (!long.TryParse(headers["Content-Length"], out var length) || length < 0)
        {
            Resync(start + 1, headers["Content-Length"] is null ? "missing_content_length" : "malformed_header");
            return Outcome.Skipped;
        }
        var blockStart = cursor;
        if (length > options.MaxRecordBytes)
        {
            // Scanning for the next record rather than trusting the length: a corrupt Content-Length
            // of many gigabytes must not swallow the rest of the file.
            Resync(blockStart, "record_too_large");
            return Outcome.Skipped;
        }
        if (!Available(blockStart, (int)length + 4, keepFrom: start))
        {
            Resync(blockStart, "truncated_record");
            return Outcome.Skipped;
        }
        var trailer = window.AsSpan(Index(blockStart) + (int)length, 4);
        if (!trailer.SequenceEqual("\r\n\r\n"u8))
        {
            // Writers that end records with bare LF are tolerated; anything else means a wrong Content-Length.
            if (!(trailer[0] == (byte)'\n' || (trailer[0] == (byte)'\r' && trailer[1] == (byte)'\n')))
            {
                Resync(blockStart, "content_length_mismatch");
                return Outcome.Skipped;
            }
        }
        // In a per-record gzip file a record never crosses into a member that starts with a record:
        // if it seems to, its own member was cut short and the length swallowed the next record.
        var swallowed = memberStarts.FirstOrDefault(m => m.At > start && m.At < blockStart + length + 4 && MagicInWindow(m.At));
        if (swallowed.At > 0)
        {
            Resync(swallowed.At, "truncated_record");
            return Outcome.Skipped;
        }
        var block = new ReadOnlyMemory<byte>(window, Index(blockStart), (int)length);
        var compressedOffset = -1L;
        while (memberStarts.TryPeek(out var m) && m.At <= start)
        {
            memberStarts.Dequeue();
            if (m.At == start) compressedOffset = m.Compressed;
        }
        bool? blockOk = null, payloadOk = null;
        if (options.CheckDigests)
        {
            if (headers["WARC-Block-Digest"] is { } bd) blockOk = WarcDigest.Matches(bd, block.Span);
            // A matching block digest already proves the bytes intact; the payload digest adds nothing then.
            if (blockOk != true && headers["WARC-Payload-Digest"] is { } pd) payloadOk = CheckPayloadDigest(pd, headers, block.Span);
            if (blockOk == false) stats.Note(Stage, "block_digest_mismatch");
            if (payloadOk == false) stats.Note(Stage, "payload_digest_mismatch");
        }
        position = blockStart + length + 4;
        stats.Pass(Stage);
        record = new WarcRecord
        {
            Version = version ?? "",
            Headers = headers,
            Block = block,
            Offset = start,
            CompressedOffset = compressedOffset,
            BlockDigestMatches = blockOk,
            PayloadDigestMatches = payloadOk,
        };
        return Outcome.Record;
    }

    private static bool? CheckPayloadDigest(string declared, WarcHeaders headers, ReadOnlySpan<byte> block)
    {
        var contentType = headers["Content-Type"] ?? "";
        if (!contentType.StartsWith("application/http", StringComparison.OrdinalIgnoreCase)) return WarcDigest.Matches(declared, block);
        var split = block.IndexOf("\r\n\r\n"u8);
        if (split < 0) return false;
        var payload = block[(split + 4)..];
        var direct = WarcDigest.Matches(declared, payload);
        if (direct != false) return direct;
        // Some writers digest the payload after removing chunked transfer-encoding.
        return Http.HttpResponse.TryParse(block, out var response) && response.IsChunked
            && Http.HttpBody.TryDechunk(payload, int.MaxValue, out var dechunked)
            ? WarcDigest.Matches(declared, dechunked)
            : false;
    }

    /// <summary>Counts the damage and moves to the next plausible record start at or after <paramref name="from"/>.</summary>
    private void Resync(long from, string reason)
    {
        stats.Reject(Stage, reason);
        var scan = from;
        while (true)
        {
            while (memberStarts.TryPeek(out var m) && m.At < from) memberStarts.Dequeue();
            var member = memberStarts.TryPeek(out var next) ? next.At : long.MaxValue;
            var i = Index(scan);
            while (i < end)
            {
                var at = window.AsSpan(i, end - i).IndexOf(Magic);
                if (at < 0) break;
                var abs = windowBase + i + at;
                if (i + at == 0 || window[i + at - 1] == (byte)'\n')
                {
                    position = Math.Min(abs, member);
                    return;
                }
                i += at + 1;
            }
            if (member <= windowBase + end)
            {
                position = member;
                return;
            }
            scan = Math.Max(from, windowBase + end - Magic.Length);
            if (!Fill(keepFrom: scan - 1))
            {
                position = windowBase + end;
                return;
            }
        }
    }

    private bool SkipLineBreaks()
    {
        while (true)
        {
            var i = Index(position);
            while (i < end && (window[i] == (byte)'\r' || window[i] == (byte)'\n')) i++;
            position = windowBase + i;
            if (i < end) return true;
            if (!Fill(keepFrom: position)) return false;
        }
    }

    private bool StartsWithMagic(long at) =>
        Available(at, Magic.Length) && window.AsSpan(Index(at), Magic.Length).SequenceEqual(Magic);

    private bool MagicInWindow(long at) =>
        at + Magic.Length <= windowBase + end && window.AsSpan(Index(at), Magic.Length).SequenceEqual(Magic);

    private long FindLineEnd(long from, long recordStart)
    {
        var searched = from;
        while (true)
        {
            var i = Index(searched);
            var at = window.AsSpan(i, end - i).IndexOf((byte)'\n');
            if (at >= 0) return windowBase + i + at;
            searched = windowBase + end;
            if (searched - recordStart > options.MaxHeaderBytes) return -1;
            if (!Fill(keepFrom: recordStart)) return -1;
        }
    }

    private ReadOnlySpan<byte> Line(long from, long newline)
    {
        var span = window.AsSpan(Index(from), (int)(newline - from));
        return span.Length > 0 && span[^1] == (byte)'\r' ? span[..^1] : span;
    }

    private int Index(long absolute) => (int)(absolute - windowBase);

    private bool Available(long from, int count, long? keepFrom = null)
    {
        while (windowBase + end < from + count)
        {
            if (!Fill(keepFrom ?? from)) return false;
        }
        return true;
    }

    /// <summary>Reads more, keeping bytes from <paramref name="keepFrom"/> on; false at end of input.</summary>
    private bool Fill(long keepFrom)
    {
        cancellation.ThrowIfCancellationRequested();
        if (sourceEnded) return false;
        var keep = Index(Math.Min(keepFrom, windowBase + end));
        if (keep > 0)
        {
            Buffer.BlockCopy(window, keep, window, 0, end - keep);
            end -= keep;
            windowBase += keep;
        }
        if (end == window.Length) Array.Resize(ref window, window.Length * 2);
        var n = source.Read(window.AsSpan(end), out var memberStart);
        if (n == 0)
        {
            sourceEnded = true;
            return false;
        }
        if (memberStart >= 0) memberStarts.Enqueue((windowBase + end, memberStart));
        end += n;
        return true;
    }

    public void Dispose()
    {
        source.Dispose();
        if (!leaveOpen) input.Dispose();
    }
}
