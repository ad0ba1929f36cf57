using Platform.Grains.Ingestion;

namespace Platform.Silo.Jobs;

/// <summary>
/// Hangfire job that starts a distributed extraction. Takes plain arguments and submits them to the
/// job's grain, which accepts the same submission again without effect: safe when Hangfire retries.
/// </summary>
public sealed class IngestSubmitJob(IGrainFactory grains, ILogger<IngestSubmitJob> logger)
{
    public async Task<IngestJobPhase> RunAsync(string jobId, string[] inputs, string outputDirectory, string? dataset,
        IngestJobSettings? settings = null, string? datasetLocation = null)
    {
        var status = await grains.GetGrain<IIngestJobGrain>(jobId)
            .Submit(new IngestJobRequest(inputs, outputDirectory, settings ?? new IngestJobSettings(), dataset, datasetLocation));
        logger.LogInformation("Ingest job {Job}: {Phase}, {Done}/{Units} units done", jobId, status.Phase, status.UnitsDone, status.Units.Count);
        return status.Phase;
    }
}
