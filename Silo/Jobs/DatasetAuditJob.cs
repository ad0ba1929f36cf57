using Platform.Grains.Datasets;

namespace Platform.Silo.Jobs;

/// <summary>
/// Hangfire job that re-reads a dataset's whole manifest and checks it against the summary the
/// grain keeps, so drift between blob and table storage is caught. Takes the dataset name, not an
/// object, and only reads: safe to run again when Hangfire retries it.
/// </summary>
public sealed class DatasetAuditJob(IGrainFactory grains, ILogger<DatasetAuditJob> logger)
{
    private const int Page = 5_000;

    public async Task<DatasetAuditReport> RunAsync(string dataset)
    {
        var grain = grains.GetGrain<IDatasetGrain>(dataset);
        var totals = await grain.GetTotals();
        var shards = 0;
        long samples = 0, bytes = 0;
        for (var skip = 0; ; skip += Page)
        {
            var page = await grain.ListShards(skip, Page);
            shards += page.Count;
            samples += page.Sum(s => s.SampleCount);
            bytes += page.Sum(s => s.SizeBytes);
            if (page.Count < Page) break;
        }
        var report = new DatasetAuditReport(dataset, shards, samples, bytes,
            Consistent: shards == totals.ShardCount && samples == totals.SampleCount && bytes == totals.SizeBytes);
        if (report.Consistent)
            logger.LogInformation("Dataset {Dataset}: {Shards} shards, {Samples} samples, manifest and summary agree", dataset, shards, samples);
        else
            logger.LogWarning("Dataset {Dataset}: manifest lists {Shards} shards / {Samples} samples but the summary says {SummaryShards} / {SummarySamples}",
                dataset, shards, samples, totals.ShardCount, totals.SampleCount);
        return report;
    }
}

public sealed record DatasetAuditReport(string Dataset, int ShardCount, long SampleCount, long SizeBytes, bool Consistent);
