using Platform.Ingestion.Fetching;

namespace Platform.Ingestion.Crawling;

/// <param name="Fetched">Targets attempted so far (pages and images, successful or not).</param>
public readonly record struct CrawlProgress(long Fetched, int Pending, long PagesFetched, long ImagesFetched);

/// <param name="Stats">Fetch and frontier counters by name (see <see cref="CrawlStats"/>).</param>
public sealed record CrawlSummary(IReadOnlyList<string> WarcFiles, int PagesAdmitted, SortedDictionary<string, long> Stats)
{
    public long PagesFetched => Stats.GetValueOrDefault(CrawlStats.PagesFetched);
    public long ImagesFetched => Stats.GetValueOrDefault(CrawlStats.ImagesFetched);
}

/// <summary>
/// A crawl in one process: a breadth-first frontier, <see cref="CrawlOptions.Concurrency"/> fetches in
/// flight, and the politeness of each host (in-process unless given). The WARC files it writes are an
/// ordinary web dump.
/// </summary>
public static class Crawler
{
    public static async Task<CrawlSummary> RunAsync(IReadOnlyList<string> seeds, string outputDirectory, CrawlOptions options,
        IHostPoliteness? politeness = null, IHostResolver? resolver = null, IProgress<CrawlProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var frontier = new CrawlFrontier(seeds, options);
        politeness ??= new InProcessHostPoliteness(options.Politeness, options.RobotsProductToken);
        var stats = new CrawlStats();
        using var fetcher = new CrawlFetcher(options, frontier.Scope, politeness, stats, resolver);
        using var archive = new CrawlArchive(outputDirectory, $"crawl-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid().ToString("N")[..6]}", options.MaxWarcFileBytes, options.UserAgent);
        var running = new Dictionary<Task<CrawlDiscovery>, CrawlTarget>();
        long attempted = 0;
        try
        {
            while (true)
            {
                while (running.Count < Math.Max(1, options.Concurrency) && frontier.TryTake(out var target))
                    running.Add(fetcher.FetchAsync(target, archive, cancellationToken), target);
                if (running.Count == 0) break;
                var done = await Task.WhenAny(running.Keys);
                var finished = running[done];
                running.Remove(done);
                frontier.AddDiscovered(finished, await done);
                attempted++;
                progress?.Report(new CrawlProgress(attempted, frontier.Pending.Count + running.Count, stats[CrawlStats.PagesFetched], stats[CrawlStats.ImagesFetched]));
            }
        }
        finally
        {
            // Cancellation leaves fetches in flight; they end with the token before the archive closes.
            await Task.WhenAll(running.Keys).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        archive.Dispose();
        stats.Add(frontier.Stats.Snapshot());
        return new CrawlSummary(archive.Files, frontier.PagesAdmitted, stats.Snapshot());
    }

    /// <summary>
    /// Fetches one slice of a frontier (a batch of targets taken by a distributed driver) into one
    /// archive, <paramref name="concurrency"/> at a time, and returns what each target revealed.
    /// </summary>
    public static async Task<IReadOnlyList<(CrawlTarget Target, CrawlDiscovery Discovery)>> FetchSliceAsync(
        IReadOnlyList<CrawlTarget> targets, CrawlFetcher fetcher, CrawlArchive archive, int concurrency, CancellationToken cancellationToken)
    {
        var results = new (CrawlTarget, CrawlDiscovery)[targets.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, targets.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, concurrency), CancellationToken = cancellationToken },
            async (i, ct) => results[i] = (targets[i], await fetcher.FetchAsync(targets[i], archive, ct)));
        return results;
    }
}
