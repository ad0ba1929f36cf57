using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Platform.Ingestion.Http;

/// <summary>The status line and headers of an HTTP/1.x message stored in a WARC record.</summary>
public sealed class HttpResponse
{
    public int StatusCode { get; private init; }
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; private init; } = [];
    /// <summary>Offset of the body within the block.</summary>
    public int BodyOffset { get; private init; }

    public string? Header(string name)
    {
        foreach (var (k, v) in Headers)
            if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) return v;
        return null;
    }

    /// <summary>All values of a header that may repeat (e.g. X-Robots-Tag), joined by commas.</summary>
    public string? HeaderAll(string name)
    {
        string? joined = null;
        foreach (var (k, v) in Headers)
            if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) joined = joined is null ? v : joined + ", " + v;
        return joined;
    }

    /// <summary>Media type in lower case without parameters, e.g. `text/html`; empty when absent.</summary>
    public string MediaType => ParseContentType(Header("Content-Type")).MediaType;

    /// <summary>The declared charset in lower case, or null.</summary>
    public string? Charset => ParseContentType(Header("Content-Type")).Charset;

    public bool IsChunked => Header("Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true;

    public static (string MediaType, string? Charset) ParseContentType(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return ("", null);
        var parts = value.Split(';');
        string? charset = null;
        for (var i = 1; i < parts.Length; i++)
        {
            var p = parts[i].Trim();
            if (p.StartsWith("charset=", StringComparison.OrdinalIgnoreCase))
                charset = p[8..].Trim().Trim('"', '\'').ToLowerInvariant();
        }
        return (parts[0].Trim().ToLowerInvariant(), string.IsNullOrEmpty(charset) ? null : charset);
    }

    /// <summary>The longest status line and header block accepted (servers cap theirs at 8-64 KiB).</summary>
    public const int MaxHeadBytes = 256 << 10;

    /// <summary>Parses the head of an HTTP response; tolerates bare LF line ends. False when it is not one (or its head passes <see cref="MaxHeadBytes"/>).</summary>
    public static bool TryParse(ReadOnlySpan<byte> block, [NotNullWhen(true)] out HttpResponse? response)
    {
        response = null;
        if (!block.StartsWith("HTTP/"u8)) return false;
        var headers = new HeaderFields();
        var cursor = 0;
        var status = -1;
        while (true)
        {
            var nl = block[cursor..].IndexOf((byte)'\n');
            if (nl < 0) return false;
            var line = block.Slice(cursor, nl);
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            cursor += nl + 1;
            if (status < 0)
            {
                var firstSpace = line.IndexOf((byte)' ');
                if (firstSpace < 0 || line.Length < firstSpace + 4) return false;
                if (!int.TryParse(line.Slice(firstSpace + 1, 3), out status)) return false;
                continue;
            }
            if (line.IsEmpty) break;
            // A head this long is no server's: treat the block as not an HTTP response rather than keep reading it.
            if (cursor > MaxHeadBytes) return false;
            if ((line[0] == (byte)' ' || line[0] == (byte)'\t') && headers.Continue(Encoding.Latin1.GetString(line).Trim()))
                continue;
            var colon = line.IndexOf((byte)':');
            if (colon <= 0) continue;
            headers.Add(Encoding.Latin1.GetString(line[..colon]).Trim(), Encoding.Latin1.GetString(line[(colon + 1)..]).Trim());
        }
        response = new HttpResponse { StatusCode = status, Headers = headers.ToList(), BodyOffset = cursor };
        return true;
    }
}
