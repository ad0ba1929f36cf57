using Hangfire.Common;
using Platform.Grains.Training;

namespace Platform.Silo.Jobs;

/// <summary>Which platform page shows what a Hangfire job of the platform started or checked.</summary>
public static class PlatformJobPages
{
    public static string? PageOf(Job job) => (job.Type.Name, job.Args.Count > 0 ? job.Args[0] : null) switch
    {
        (nameof(IngestSubmitJob), string jobId) => $"/ingest/{Uri.EscapeDataString(jobId)}",
        (nameof(TrainingSubmitJob), TrainingRunSpec spec) => $"/runs/{Uri.EscapeDataString(spec.RunId)}",
        (nameof(DatasetAuditJob), string dataset) => $"/datasets/{Uri.EscapeDataString(dataset)}",
        (nameof(TrainingRunCheckJob), _) => "/runs",
        _ => null,
    };
}
