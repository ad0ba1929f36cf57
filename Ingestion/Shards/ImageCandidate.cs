namespace Platform.Ingestion.Shards;

/// <summary>
/// One image-caption pair to attempt. <paramref name="EmbeddedBytes"/> carries the payload when the source
/// already holds it (e.g. a WARC response record); otherwise the image is fetched from <paramref name="Url"/>.
/// </summary>
public sealed record ImageCandidate(string Url, string Caption, byte[]? EmbeddedBytes = null);
