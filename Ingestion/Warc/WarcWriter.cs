using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Platform.Ingestion.Warc;

/// <summary>
/// Writes WARC/1.1 records, each in its own gzip member by default (what Common Crawl, wget and
/// warcio produce), with sha1 block and payload digests so readers can verify them.
/// </summary>
public sealed class WarcWriter(Stream output, bool gzipPerRecord = true, bool leaveOpen = false) : IDisposable
{
    public const string Version = "WARC/1.1";

    /// <summary>Writes one record and returns its WARC-Record-ID.</summary>
    public string WriteRecord(
        string type,
        ReadOnlySpan<byte> block,
        string? contentType = null,
        string? targetUri = null,
        IEnumerable<KeyValuePair<string, string>>? extraHeaders = null,
        DateTimeOffset? date = null,
        int payloadOffset = -1)
    {
        var id = $"<urn:uuid:{Guid.NewGuid()}>";
        var head = new StringBuilder();
        head.Append(Version).Append("\r\n");
        Header(head, "WARC-Type", type);
        Header(head, "WARC-Record-ID", id);
        Header(head, "WARC-Date", (date ?? DateTimeOffset.UtcNow).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        if (targetUri is not null) Header(head, "WARC-Target-URI", targetUri);
        if (extraHeaders is not null)
            foreach (var (k, v) in extraHeaders) Header(head, k, v);
        Header(head, "WARC-Block-Digest", WarcDigest.Sha1Base32(block));
        if (payloadOffset >= 0) Header(head, "WARC-Payload-Digest", WarcDigest.Sha1Base32(block[payloadOffset..]));
        if (contentType is not null) Header(head, "Content-Type", contentType);
        Header(head, "Content-Length", block.Length.ToString(CultureInfo.InvariantCulture));
        head.Append("\r\n");

        var target = gzipPerRecord ? new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true) : output;
        try
        {
            target.Write(Encoding.UTF8.GetBytes(head.ToString()));
            target.Write(block);
            target.Write("\r\n\r\n"u8);
        }
        finally
        {
            if (gzipPerRecord) target.Dispose();
        }
        return id;
    }

    private static void Header(StringBuilder head, string name, string value)
    {
        if (value.AsSpan().IndexOfAny('\r', '\n') >= 0) throw new ArgumentException($"WARC header {name} must be one line.", nameof(value));
        head.Append(name).Append(": ").Append(value).Append("\r\n");
    }

    public string WriteWarcInfo(string fileName, IEnumerable<KeyValuePair<string, string>> fields)
    {
        var body = new StringBuilder();
        foreach (var (k, v) in fields) body.Append(k).Append(": ").Append(v).Append("\r\n");
        return WriteRecord("warcinfo", Encoding.UTF8.GetBytes(body.ToString()), "application/warc-fields",
            extraHeaders: [new("WARC-Filename", fileName)]);
    }

    /// <summary>An HTTP response record: status line, headers and body are stored as given (no re-encoding).</summary>
    public string WriteResponse(string targetUri, int status, IEnumerable<KeyValuePair<string, string>> headers, ReadOnlySpan<byte> body, string? concurrentTo = null, DateTimeOffset? date = null)
    {
        var head = new StringBuilder();
        head.Append("HTTP/1.1 ").Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(ReasonPhrase(status)).Append("\r\n");
        foreach (var (k, v) in headers) head.Append(k).Append(": ").Append(v).Append("\r\n");
        head.Append("\r\n");
        var headBytes = Encoding.Latin1.GetBytes(head.ToString());
        var block = new byte[headBytes.Length + body.Length];
        headBytes.CopyTo(block, 0);
        body.CopyTo(block.AsSpan(headBytes.Length));
        var extra = new List<KeyValuePair<string, string>>();
        if (concurrentTo is not null) extra.Add(new("WARC-Concurrent-To", concurrentTo));
        return WriteRecord("response", block, "application/http; msgtype=response", targetUri, extra, date, headBytes.Length);
    }

    public string WriteRequest(string targetUri, string method = "GET", string? concurrentTo = null)
    {
        var uri = new Uri(targetUri);
        var block = Encoding.ASCII.GetBytes($"{method} {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\n\r\n");
        var extra = concurrentTo is null ? null : new List<KeyValuePair<string, string>> { new("WARC-Concurrent-To", concurrentTo) };
        return WriteRecord("request", block, "application/http; msgtype=request", targetUri, extra);
    }

    public string WriteResource(string targetUri, string contentType, ReadOnlySpan<byte> body) =>
        WriteRecord("resource", body, contentType, targetUri);

    public string WriteMetadata(string targetUri, string refersTo, IEnumerable<KeyValuePair<string, string>> fields)
    {
        var body = new StringBuilder();
        foreach (var (k, v) in fields) body.Append(k).Append(": ").Append(v).Append("\r\n");
        return WriteRecord("metadata", Encoding.UTF8.GetBytes(body.ToString()), "application/warc-fields", targetUri,
            [new("WARC-Refers-To", refersTo)]);
    }

    public string WriteRevisit(string targetUri, string refersTo, string payloadDigest) =>
        WriteRecord("revisit", [], null, targetUri,
        [
            new("WARC-Refers-To", refersTo),
            new("WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"),
            new("WARC-Payload-Digest", payloadDigest),
        ]);

    private static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };

    public void Flush() => output.Flush();

    public void Dispose()
    {
        output.Flush();
        if (!leaveOpen) output.Dispose();
    }
}
