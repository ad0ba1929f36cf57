using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;
using Platform.Grains.Ingestion;
using Platform.Grains.Work;
using Platform.Ingestion.Crawling;

namespace Platform.Grains.Crawling;

/// <summary>
/// One slice attempt, placed at random so a crawl spreads over the silos (see <see cref="IngestUnitGrain"/>
/// for why not a stateless worker). It runs off the grain scheduler, shares the silo's work slots with
/// ingest units, writes its own WARC file and asks the hosts' grains before every request; its lease is run by
/// <see cref="LeasedWorkRunner"/> like every other leased work.
/// </summary>
[RandomPlacement]
public sealed class CrawlSliceGrain(IngestWorkerSlots slots, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<CrawlSliceGrain> logger)
    : LeasedWorkerGrain<SliceAssignment>(slots, silo, lifetime, logger), ICrawlSliceGrain
{
    protected override async Task RunAsync(IGrainFactory grains, SliceAssignment assignment)
    {
        CrawlArchive? archive = null;
        var stats = new CrawlStats();
        try
        {
            var outcome = await RunLeasedAsync(
                new LeasedWork(grains.GetGrain<ICrawlJobGrain>(assignment.JobId), new WorkItemId(WorkKind.CrawlSlice, assignment.Slice), assignment.Attempt,
                    assignment.Settings.LeaseTimeout, $"Slice {assignment.Slice} attempt {assignment.Attempt} of crawl {assignment.JobId}"),
                async stop =>
                {
                    var options = assignment.Settings.ToOptions(assignment.AllowedDomains);
                    var politeness = new GrainHostPoliteness(grains, options.Politeness, options.RobotsProductToken);
                    using var fetcher = new CrawlFetcher(options, new CrawlScope([], assignment.AllowedDomains), politeness, stats);
                    archive = new CrawlArchive(assignment.WarcDirectory, $"crawl-{SafeName(assignment.JobId)}-{assignment.Slice:D5}-a{assignment.Attempt}",
                        options.MaxWarcFileBytes, options.UserAgent);
                    var results = await Crawler.FetchSliceAsync(assignment.Targets.Select(t => t.ToTarget()).ToList(), fetcher, archive,
                        options.Concurrency, stop);
                    archive.Dispose();
                    return new SliceReport(archive.Files,
                        results.Select(r => new SliceDiscovery(CrawlTargetRecord.From(r.Target), r.Discovery.Links, r.Discovery.Images)).ToList(),
                        stats.Snapshot());
                },
                // Every fetch, refusal or failure adds to a counter: their sum is the slice's progress.
                () => stats.Snapshot().Values.Sum());
            // Files are removed when the job refused them, or when the attempt failed before offering them; never
            // when the completion call itself failed, since the job may have recorded them before its answer was lost.
            if (outcome is WorkRunOutcome.Refused or WorkRunOutcome.Failed or WorkRunOutcome.Stopped && archive is not null)
            {
                archive.Dispose();
                foreach (var file in archive.Files) File.Delete(file);
            }
        }
        finally
        {
            archive?.Dispose();
        }
    }

    private static string SafeName(string id) => string.Concat(id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
