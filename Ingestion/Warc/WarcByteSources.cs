using System.IO.Compression;
using Platform.Ingestion.Pipeline;

namespace Platform.Ingestion.Warc;

/// <summary>
/// The decompressed bytes of a WARC file. A source marks where each gzip member begins, because in
/// per-record gzip files a member start is a record start: the parser resynchronises there after damage.
/// </summary>
internal interface IWarcByteSource : IDisposable
{
    /// <summary>Reads up to <paramref name="destination"/>.Length bytes; 0 at the end.</summary>
    /// <param name="memberStart">The compressed offset of the member whose first bytes these are, else -1.</param>
    int Read(Span<byte> destination, out long memberStart);

    /// <summary>Bytes of the file consumed so far (for progress). Disposing leaves the input open; the reader owns it.</summary>
    long CompressedPosition { get; }

    /// <param name="inputOffset">Where in the file the stream begins (a work unit's byte range): compressed offsets count from the file's start.</param>
    static IWarcByteSource Open(Stream input, FunnelStats stats, int maxBufferedMember, long inputOffset = 0)
    {
        var head = new byte[2];
        var got = 0;
        while (got < 2)
        {
            var n = input.Read(head, got, 2 - got);
            if (n == 0) break;
            got += n;
        }
        return got == 2 && head[0] == 0x1f && head[1] == 0x8b
            ? new GzipMemberSource(input, head, stats, maxBufferedMember, inputOffset)
            : new PlainSource(input, head.AsSpan(0, got).ToArray(), inputOffset);
    }
}

/// <summary>An uncompressed file: its bytes are the records', so offsets are file offsets (from <c>inputOffset</c> on for a range).</summary>
internal sealed class PlainSource(Stream input, byte[] prefix, long inputOffset) : IWarcByteSource
{
    private int prefixUsed;
    private long position = inputOffset;

    public long CompressedPosition => position;

    public int Read(Span<byte> destination, out long memberStart)
    {
        memberStart = position == 0 ? 0 : -1;
        int n;
        if (prefixUsed < prefix.Length)
        {
            n = Math.Min(destination.Length, prefix.Length - prefixUsed);
            prefix.AsSpan(prefixUsed, n).CopyTo(destination);
            prefixUsed += n;
        }
        else
        {
            n = input.Read(destination);
        }
        position += n;
        return n;
    }

    public void Dispose() { }
}

/// <summary>
/// Splits the compressed file at gzip member headers and inflates each member on its own, so a
/// damaged member (corrupt, truncated, or garbage between members) costs only that member.
/// .NET's GZipStream alone would stop silently at garbage and lose everything after it.
/// A member longer than <c>maxBufferedMember</c> (a whole-file gzip) is inflated as a stream instead.
/// </summary>
internal sealed class GzipMemberSource : IWarcByteSource
{
    public const int HeaderLength = 10;
    public const string Stage = "warc_bytes";

    /// <summary>
    /// Inflated bytes per compressed byte above which a member is a decompression bomb, once it has
    /// inflated <see cref="ExpansionCheckFloor"/>: web archives compress 3-10 times; deflate reaches about
    /// 1000 only on runs of one byte (a gzip member of 10 GB of zeros is 10 MB).
    /// </summary>
    public const int MaxExpansion = 100;

    public const long ExpansionCheckFloor = 64L << 20;
    private readonly Stream input;
    private readonly FunnelStats stats;
    private readonly int maxBufferedMember;
    private byte[] raw = new byte[1 << 16];
    private int rawStart;
    private int rawEnd;
    private long rawBase;
    private bool inputEnded;
    private Stream? member;
    /// <summary>The compressed bytes of a buffered member, for how much of it the inflater has read.</summary>
    private MemoryStream? memberInput;
    private long pendingMemberStart = -1;
    private bool streaming;
    private long streamingHeaderAt;
    private long lastChunkAt;
    private int segmentStart = -1;
    private int segmentEnd;
    private long memberOutput;

    public GzipMemberSource(Stream input, byte[] prefix, FunnelStats stats, int maxBufferedMember, long inputOffset)
    {
        this.input = input;
        rawBase = inputOffset;
        this.stats = stats;
        this.maxBufferedMember = maxBufferedMember;
        prefix.CopyTo(raw, 0);
        rawEnd = prefix.Length;
    }

    public long CompressedPosition => rawBase + rawStart;

    public int Read(Span<byte> destination, out long memberStart)
    {
        memberStart = -1;
        while (true)
        {
            if (member is null && !OpenNextMember()) return 0;
            if (memberOutput > ExpansionCheckFloor && memberOutput > MaxExpansion * CompressedReadOfMember())
            {
                stats.Reject(Stage, "gzip_member_expands_too_far");
                segmentStart = -1;
                CloseMember();
                continue;
            }
            int n;
            try
            {
                n = member!.Read(destination);
            }
            catch (InvalidDataException)
            {
                stats.Reject(Stage, "gzip_member_corrupt");
                segmentStart = -1;
                CloseMember();
                continue;
            }
            if (n > 0)
            {
                memberOutput += n;
                memberStart = pendingMemberStart;
                pendingMemberStart = -1;
                return n;
            }
            CheckTrailer();
            CloseMember();
        }
    }

    /// <summary>
    /// GZipStream ignores what follows a member and accepts a member cut short, silently. The
    /// trailer's ISIZE (output length mod 2^32) tells where the member really ended, if it did.
    /// </summary>
    private void CheckTrailer()
    {
        if (segmentStart < 0) return;
        var size = (uint)memberOutput;
        Span<byte> pattern = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(pattern, size);
        var segment = raw.AsSpan(segmentStart, segmentEnd - segmentStart);
        if (segment.Length >= 18 && segment[^4..].SequenceEqual(pattern)) return;
        var end = segment.Length >= 18 ? segment[18..].IndexOf(pattern) : -1;
        stats.Reject(Stage, end < 0 ? "gzip_member_truncated" : "garbage_between_members");
    }

    private long CompressedReadOfMember() =>
        memberInput is not null ? Math.Max(1, memberInput.Position) : Math.Max(1, rawBase + rawStart - streamingHeaderAt);

    private void CloseMember()
    {
        segmentStart = -1;
        memberOutput = 0;
        member?.Dispose();
        member = null;
        memberInput = null;
        pendingMemberStart = -1;
        if (streaming)
        {
            // The inflater read ahead; what it did not use lies in the last chunk it was given.
            streaming = false;
            rawStart = (int)Math.Clamp(Math.Max(lastChunkAt, streamingHeaderAt + 1) - rawBase, 0, rawEnd);
        }
    }

    private bool OpenNextMember()
    {
        var header = FindHeader(rawStart);
        if (header < 0)
        {
            if (rawEnd > rawStart) stats.Reject(Stage, "trailing_garbage");
            rawBase += rawEnd;
            rawStart = rawEnd = 0;
            return false;
        }
        if (header > rawStart) stats.Reject(Stage, "garbage_between_members");
        rawStart = header;
        pendingMemberStart = rawBase + rawStart;

        var next = FindHeader(rawStart + HeaderLength, limitFromStart: maxBufferedMember);
        if (next == -2)
        {
            streaming = true;
            streamingHeaderAt = lastChunkAt = rawBase + rawStart;
            member = new GZipStream(new StreamingFeed(this), CompressionMode.Decompress);
            return true;
        }
        var end = next < 0 ? rawEnd : next;
        memberInput = new MemoryStream(raw, rawStart, end - rawStart, writable: false);
        member = new GZipStream(memberInput, CompressionMode.Decompress);
        segmentStart = rawStart;
        segmentEnd = end;
        rawStart = end;
        return true;
    }

    /// <summary>Index of the next plausible gzip header at or after <paramref name="from"/>; -1 at end of input; -2 past the limit.</summary>
    private int FindHeader(int from, int limitFromStart = int.MaxValue)
    {
        while (true)
        {
            var i = from;
            while (i < rawEnd)
            {
                var at = raw.AsSpan(i, rawEnd - i).IndexOf((byte)0x1f);
                if (at < 0) { i = rawEnd; break; }
                i += at;
                if (rawEnd - i < HeaderLength && !inputEnded) break;
                if (IsHeader(i)) return i;
                i++;
            }
            if (inputEnded) return -1;
            if ((long)rawEnd - rawStart >= limitFromStart) return -2;
            var shift = Fill();
            from = i - shift;
        }
    }

    private bool IsHeader(int i) => rawEnd - i >= HeaderLength && IsMemberHeader(raw.AsSpan(i, HeaderLength));

    /// <summary>Whether these bytes can begin a gzip member (deflate, no reserved flags, a known OS): where the reader starts a member.</summary>
    public static bool IsMemberHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderLength) return false;
        var flags = header[3];
        var extraFlags = header[8];
        var os = header[9];
        return header[0] == 0x1f && header[1] == 0x8b && header[2] == 8 && (flags & 0xE0) == 0
            && (extraFlags == 0 || extraFlags == 2 || extraFlags == 4) && (os <= 13 || os == 255);
    }

    /// <summary>Reads more input, discarding bytes before rawStart; returns how far indices moved.</summary>
    private int Fill()
    {
        var shift = rawStart;
        if (shift > 0)
        {
            Buffer.BlockCopy(raw, rawStart, raw, 0, rawEnd - rawStart);
            rawEnd -= shift;
            rawStart = 0;
            rawBase += shift;
        }
        if (rawEnd == raw.Length) Array.Resize(ref raw, raw.Length * 2);
        var n = input.Read(raw, rawEnd, raw.Length - rawEnd);
        if (n == 0) inputEnded = true;
        rawEnd += n;
        return shift;
    }

    /// <summary>Feeds a huge member to the inflater: first what is buffered, then the input in chunks.</summary>
    private sealed class StreamingFeed(GzipMemberSource owner) : ForwardReadStream
    {
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> destination)
        {
            var o = owner;
            if (o.rawStart == o.rawEnd)
            {
                if (o.inputEnded) return 0;
                o.rawBase += o.rawEnd;
                o.rawStart = o.rawEnd = 0;
                var n = o.input.Read(o.raw, 0, Math.Min(o.raw.Length, 1 << 16));
                if (n == 0) { o.inputEnded = true; return 0; }
                o.rawEnd = n;
            }
            var take = Math.Min(destination.Length, o.rawEnd - o.rawStart);
            o.lastChunkAt = o.rawBase + o.rawStart;
            o.raw.AsSpan(o.rawStart, take).CopyTo(destination);
            o.rawStart += take;
            return take;
        }
    }

    public void Dispose() => member?.Dispose();
}
