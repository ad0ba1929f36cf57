namespace Platform.Grains.Jobs;

/// <summary>
/// The cluster's list of ingest jobs and crawls (key: <see cref="Key"/>), newest first, so pages can find them: each job
/// grain knows only itself, and grain state cannot be listed. A job is recorded once, when it is first submitted; the
/// list keeps the last <see cref="Capacity"/> of each kind.
/// </summary>
public interface IJobDirectoryGrain : IGrainWithStringKey
{
    public const string Key = "cluster";

    public const int Capacity = 500;

    /// <summary>Records a job; recording one already listed changes nothing.</summary>
    Task Record(JobKind kind, string jobId);

    /// <summary>The <paramref name="take"/> jobs of <paramref name="kind"/> submitted last, newest first.</summary>
    Task<IReadOnlyList<JobEntry>> Recent(JobKind kind, int take);
}

[GenerateSerializer]
public enum JobKind
{
    Ingest,
    Crawl,
}

[GenerateSerializer, Immutable]
public sealed record JobEntry([property: Id(0)] JobKind Kind, [property: Id(1)] string JobId, [property: Id(2)] DateTimeOffset SubmittedAt);
