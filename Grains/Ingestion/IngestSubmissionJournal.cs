namespace Platform.Grains.Ingestion;

/// <summary>
/// A host's durable record of the ingest jobs it acknowledged, written before the acknowledgement, for storage that may lose
/// its latest writes in a crash (the embedded default's Azurite). Hosts on durable storage register none.
/// </summary>
public interface IIngestSubmissionJournal
{
    Task AppendAsync(string jobId, IngestJobRequest request, CancellationToken cancellationToken = default);
}
