namespace Platform.Ingestion.Warc;

/// <summary>Named header fields in order of appearance; names compare case-insensitively.</summary>
public sealed class WarcHeaders(List<KeyValuePair<string, string>> fields)
{
    public IReadOnlyList<KeyValuePair<string, string>> Fields => fields;

    public string? this[string name]
    {
        get
        {
            foreach (var (k, v) in fields)
                if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) return v;
            return null;
        }
    }
}

/// <summary>
/// One WARC record. <see cref="Block"/> points into the reader's buffer and is valid only until the
/// next record is read; copy it to keep it.
/// </summary>
public sealed class WarcRecord
{
    public required string Version { get; init; }
    public required WarcHeaders Headers { get; init; }
    public required ReadOnlyMemory<byte> Block { get; init; }
    /// <summary>Offset of the record in the decompressed stream.</summary>
    public long Offset { get; init; }
    /// <summary>Offset of the gzip member that starts with this record, -1 when unknown or uncompressed.</summary>
    public long CompressedOffset { get; init; } = -1;
    /// <summary>Null when the record declares no digest we can check.</summary>
    public bool? BlockDigestMatches { get; init; }
    public bool? PayloadDigestMatches { get; init; }

    /// <summary>Lower case: warcinfo, request, response, resource, metadata, revisit, conversion, continuation.</summary>
    public string Type => (Headers["WARC-Type"] ?? "").ToLowerInvariant();
    public string? TargetUri => Headers["WARC-Target-URI"]?.Trim('<', '>', ' ');
    public string? RecordId => Headers["WARC-Record-ID"];
    public string? ContentType => Headers["Content-Type"];
    public string? Date => Headers["WARC-Date"];

    /// <summary>Whether the block is an HTTP message (a response or request record of a web crawl).</summary>
    public bool IsHttp => ContentType is { } ct && ct.StartsWith("application/http", StringComparison.OrdinalIgnoreCase);
}
