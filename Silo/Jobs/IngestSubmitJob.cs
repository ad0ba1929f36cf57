using System.Security.Cryptography;
using System.Text;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Runs;

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

    /// <summary>A job id that depends only on what is ingested, so submitting the same inputs twice finds the same job.</summary>
    public static string JobIdFor(IEnumerable<string> inputs, string outputDirectory, string? dataset, string? datasetLocation = null)
    {
        // A job into the default location keeps the id it had before locations could be chosen.
        var text = string.Join('\n', inputs.Select(FullInput)) + "\n>" + Path.GetFullPath(outputDirectory) + "\n@" + dataset
            + (datasetLocation is null ? "" : "\n=" + datasetLocation);
        return "ingest-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }

    /// <summary>A local input by its full path; a blob URL as it is.</summary>
    public static string FullInput(string input) => DumpInputs.IsBlobUrl(input) ? input : Path.GetFullPath(input);
}
