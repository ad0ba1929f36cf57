namespace Platform.Grains.Ingestion;

/// <summary>
/// An ingestion posted over HTTP, kept (key: job id) until its Hangfire job submits it: Hangfire stores and shows a job's
/// arguments, and a request's blob URLs may carry SAS tokens, so the job carries only the id and reads the request here.
/// </summary>
public interface IIngestSubmissionGrain : IGrainWithStringKey
{
    /// <summary>Keeps the request; a later one under the same id replaces it (a job already submitted keeps its own).</summary>
    Task Stage(IngestJobRequest request);

    /// <summary>The staged request; null when none was staged under this id.</summary>
    Task<IngestJobRequest?> Get();
}
