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

    /// <summary>Submits the request staged under <paramref name="jobId"/> (see <see cref="IIngestSubmissionGrain"/>): the job's arguments name no input.</summary>
    public async Task<IngestJobPhase> RunStagedAsync(string jobId)
    {
        var request = await grains.GetGrain<IIngestSubmissionGrain>(jobId).Get()
            ?? throw new InvalidOperationException($"No ingestion is staged as job '{jobId}'; post it again to /api/ingest/jobs.");
        return await RunAsync(jobId, [.. request.Inputs], request.OutputDirectory, request.Dataset, request.Settings, request.DatasetLocation);
    }
}
