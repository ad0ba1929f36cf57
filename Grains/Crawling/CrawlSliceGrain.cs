using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Crawling;

namespace Platform.Grains.Crawling;

/// <summary>
/// One slice attempt, placed at random so a crawl spreads over the silos (see <see cref="IngestUnitGrain"/>
/// for why not a stateless worker). It runs off the grain scheduler, shares the silo's work slots with
/// ingest units, writes its own WARC file and asks the hosts' grains before every request.
/// </summary>
[RandomPlacement]
public sealed class CrawlSliceGrain(IngestWorkerSlots slots, IHostApplicationLifetime lifetime, ILogger<CrawlSliceGrain> logger) : Grain, ICrawlSliceGrain
{
    private Task? running;

    public Task Start(SliceAssignment assignment)
    {
        var grains = GrainFactory;
        running ??= Task.Run(() => RunAsync(grains, assignment));
        return Task.CompletedTask;
    }

    private async Task RunAsync(IGrainFactory grains, SliceAssignment assignment)
    {
        var job = grains.GetGrain<ICrawlJobGrain>(assignment.JobId);
        var stop = lifetime.ApplicationStopping;
        CrawlArchive? archive = null;
        // Files are removed when the job refused them, or when the attempt failed before offering them; never
        // when the completion call itself failed, since the job may have recorded them before its answer was lost.
        bool? accepted = null;
        var offered = false;
        try
        {
            await slots.WaitAsync(stop);
            SliceReport report;
            try
            {
                var options = assignment.Settings.ToOptions(assignment.AllowedDomains);
                var stats = new CrawlStats();
                var politeness = new GrainHostPoliteness(grains, options.Politeness, options.RobotsProductToken);
                using var fetcher = new CrawlFetcher(options, new CrawlScope([], assignment.AllowedDomains), politeness, stats);
                archive = new CrawlArchive(assignment.WarcDirectory, $"crawl-{SafeName(assignment.JobId)}-{assignment.Slice:D5}-a{assignment.Attempt}",
                    options.MaxWarcFileBytes, options.UserAgent);
                var results = await Crawler.FetchSliceAsync(assignment.Targets.Select(t => t.ToTarget()).ToList(), fetcher, archive,
                    options.Concurrency, stop);
                archive.Dispose();
                report = new SliceReport(archive.Files,
                    results.Select(r => new SliceDiscovery(CrawlTargetRecord.From(r.Target), r.Discovery.Links, r.Discovery.Images)).ToList(),
                    stats.Snapshot());
            }
            finally
            {
                slots.Release();
            }
            offered = true;
            accepted = await job.CompleteSlice(assignment.Slice, assignment.Attempt, report);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            logger.LogInformation("Slice {Slice} attempt {Attempt} of crawl {Job} stopped with its silo", assignment.Slice, assignment.Attempt, assignment.JobId);
        }
        catch (Exception error)
        {
            logger.LogWarning(error, "Slice {Slice} attempt {Attempt} of crawl {Job} failed", assignment.Slice, assignment.Attempt, assignment.JobId);
            try { await job.FailSlice(assignment.Slice, assignment.Attempt, error.Message); }
            catch (Exception report) { logger.LogWarning(report, "Could not report the failure; the slice's deadline will pass instead"); }
        }
        finally
        {
            archive?.Dispose();
            // A failed or superseded attempt's files would duplicate another attempt's records in the dump.
            if ((accepted == false || !offered) && archive is not null)
                foreach (var file in archive.Files) File.Delete(file);
        }
    }

    private static string SafeName(string id) => string.Concat(id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
