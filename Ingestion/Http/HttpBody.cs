using System.Buffers;
using System.IO.Compression;

namespace Platform.Ingestion.Http;

/// <summary>Undoes transfer- and content-encoding of a stored HTTP body, never producing more than a cap.</summary>
public static class HttpBody
{
    /// <summary>
    /// The entity body as the server meant it: de-chunked and decompressed (gzip, deflate, br).
    /// On failure returns false with a reason; the body is then unusable.
    /// </summary>
    public static bool TryDecode(HttpResponse response, ReadOnlyMemory<byte> raw, int maxBytes, out ReadOnlyMemory<byte> body, out string? failure)
    {
        failure = null;
        body = raw;
        if (response.IsChunked)
        {
            // Tools that store the de-chunked payload but keep the header exist; fall back to the raw bytes then.
            if (TryDechunk(raw.Span, maxBytes, out var dechunked)) body = dechunked;
            else if (LooksChunked(raw.Span)) { failure = "bad_chunked_encoding"; return false; }
        }
        var encoding = response.Header("Content-Encoding")?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(encoding) || encoding == "identity") return true;
        Func<Stream, Stream>? open = encoding switch
        {
            "gzip" or "x-gzip" => s => new GZipStream(s, CompressionMode.Decompress),
            "br" => s => new BrotliStream(s, CompressionMode.Decompress),
            "deflate" => IsZlibHeader(body.Span) ? s => new ZLibStream(s, CompressionMode.Decompress) : s => new DeflateStream(s, CompressionMode.Decompress),
            _ => null,
        };
        if (open is null) { failure = "unsupported_content_encoding"; return false; }
        // A body whose bytes are plainly not compressed (mislabelled) is used as it is.
        if (encoding is "gzip" or "x-gzip" && !(body.Length >= 2 && body.Span[0] == 0x1f && body.Span[1] == 0x8b))
            return true;
        try
        {
            using var input = open(new MemoryStream(body.ToArray(), writable: false));
            var output = new MemoryStream();
            var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
            try
            {
                int n;
                while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
                {
                    if (output.Length + n > maxBytes) { failure = "decoded_body_too_large"; return false; }
                    output.Write(buffer, 0, n);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            body = new ReadOnlyMemory<byte>(output.GetBuffer(), 0, (int)output.Length);
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException)
        {
            failure = "bad_content_encoding";
            return false;
        }
    }

    private static bool IsZlibHeader(ReadOnlySpan<byte> data) =>
        data.Length >= 2 && (data[0] & 0x0f) == 8 && ((data[0] << 8) | data[1]) % 31 == 0;

    private static bool LooksChunked(ReadOnlySpan<byte> data)
    {
        var nl = data.IndexOf((byte)'\n');
        if (nl <= 0 || nl > 20) return false;
        foreach (var b in data[..nl].TrimEnd((byte)'\r'))
            if (!char.IsAsciiHexDigit((char)b) && b != (byte)';') return false;
        return true;
    }

    /// <summary>Removes chunked transfer-encoding. A body cut off inside a chunk keeps what arrived.</summary>
    public static bool TryDechunk(ReadOnlySpan<byte> data, int maxBytes, out byte[] body)
    {
        var output = new ArrayBufferWriter<byte>(Math.Min(Math.Max(data.Length, 16), maxBytes));
        body = [];
        var cursor = 0;
        while (cursor < data.Length)
        {
            var nl = data[cursor..].IndexOf((byte)'\n');
            if (nl < 0) return false;
            var sizeLine = data.Slice(cursor, nl).TrimEnd((byte)'\r');
            var ext = sizeLine.IndexOf((byte)';');
            if (ext >= 0) sizeLine = sizeLine[..ext];
            sizeLine = sizeLine.Trim((byte)' ');
            if (sizeLine.IsEmpty || sizeLine.Length > 8) return false;
            var size = 0;
            foreach (var b in sizeLine)
            {
                if (!char.IsAsciiHexDigit((char)b)) return false;
                size = size * 16 + (b <= (byte)'9' ? b - '0' : (b | 0x20) - 'a' + 10);
            }
            cursor += nl + 1;
            if (size == 0) break;
            var take = Math.Min(size, data.Length - cursor);
            if (output.WrittenCount + take > maxBytes) return false;
            output.Write(data.Slice(cursor, take));
            cursor += take;
            if (take < size) break;
            if (cursor < data.Length && data[cursor] == (byte)'\r') cursor++;
            if (cursor < data.Length && data[cursor] == (byte)'\n') cursor++;
        }
        body = output.WrittenSpan.ToArray();
        return true;
    }
}
