using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using Platform.Grains.Crawling;
using Platform.Ingestion.Crawling;

namespace Platform.Silo.Cli;

/// <summary>`platform crawl`: a polite crawl on the running platform whose WARC files are ingested into a dataset.</summary>
public static class CrawlCommand
{
    public static Command Create()
    {
        var seeds = new Argument<string[]>("seeds") { Description = "Start URLs (http or https).", Arity = ArgumentArity.OneOrMore };
        var dataset = new Option<string>("--dataset") { Description = "Dataset the crawl is ingested into.", Required = true };
        var maxPages = new Option<int>("--max-pages") { Description = "Pages fetched at most, seeds included (images do not count).", DefaultValueFactory = _ => 1000 };
        var maxDepth = new Option<int>("--max-depth") { Description = "Link hops from a seed that are followed.", DefaultValueFactory = _ => 3 };
        var allowDomain = new Option<string[]>("--allow-domain")
        {
            Description = "Domain whose pages are followed, subdomains included; repeat for several (default: the seeds' hosts).",
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--out") { Description = "Folder for the WARC files (warc/) and the ingest output (ingest/), on storage every silo can write (default: ./crawl-JOB)." };
        var job = new Option<string>("--job") { Description = "Crawl id (default: derived from the seeds, dataset and output, so repeating the command follows the same crawl)." };
        var delay = new Option<int>("--delay-ms") { Description = "Least time between two requests to one host, cluster-wide; robots.txt's Crawl-delay may ask for more.", DefaultValueFactory = _ => 1000 };
        var noImages = new Option<bool>("--no-images") { Description = "Fetch pages only; their images are downloaded at ingestion instead." };
        var allowLoopback = new Option<bool>("--allow-loopback") { Description = "Allow seeds and links on loopback addresses (a local test site); refused by default like every non-public address." };
        var detach = new Option<bool>("--detach") { Description = "Start the crawl, print its id and return without following its progress." };

        var command = new Command("crawl", "Crawl from seed URLs within bounds, politely per host, archive as WARC and ingest into a dataset; prints progress until done.");
        command.Arguments.Add(seeds);
        foreach (var option in new Option[] { dataset, maxPages, maxDepth, allowDomain, output, job, delay, noImages, allowLoopback, detach }) command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var urls = result.GetValue(seeds)!;
            foreach (var url in urls)
            {
                try { CrawlScope.ParseSeed(url); }
                catch (ArgumentException e)
                {
                    Console.Error.WriteLine(e.Message);
                    return 2;
                }
            }
            var name = result.GetValue(dataset)!;
            var requestedOut = result.GetValue(output);
            var id = result.GetValue(job) ?? JobIdFor(urls, name, requestedOut is null ? null : Path.GetFullPath(requestedOut));
            var outDir = Path.GetFullPath(requestedOut ?? id);
            var settings = new CrawlJobSettings
            {
                AllowedDomains = result.GetValue(allowDomain) ?? [],
                MaxPages = result.GetValue(maxPages),
                MaxDepth = result.GetValue(maxDepth),
                MinDelay = TimeSpan.FromMilliseconds(result.GetValue(delay)),
                FetchImages = !result.GetValue(noImages),
                AllowLoopback = result.GetValue(allowLoopback),
            };
            return await IngestClusterCommands.WithClientAsync(async grains =>
            {
                var crawl = grains.GetGrain<ICrawlJobGrain>(id);
                var status = await crawl.Start(new CrawlJobRequest(urls, outDir, name, settings));
                Console.WriteLine(id);
                if (result.GetValue(detach)) return 0;
                var last = "";
                while (true)
                {
                    var line = Describe(status);
                    if (line != last) Console.Error.WriteLine(line);
                    last = line;
                    if (status.IsOver) return status.Phase == CrawlJobPhase.Completed ? 0 : 1;
                    try { await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken); }
                    catch (OperationCanceledException)
                    {
                        Console.Error.WriteLine($"Stopped following; the crawl goes on in the cluster. Repeat the command to follow it again.");
                        return 130;
                    }
                    status = await crawl.GetStatus();
                }
            }, cancellationToken);
        });
        return command;
    }

    /// <summary>Same seeds, dataset and output give the same crawl, so the command can be repeated to follow it.</summary>
    public static string JobIdFor(IEnumerable<string> seeds, string dataset, string? outputDirectory)
    {
        var key = string.Join('\n', seeds) + "\n" + dataset + "\n" + outputDirectory;
        return "crawl-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];
    }

    public static string Describe(CrawlJobStatus status)
    {
        var crawled = $"{status.JobId}: {status.Phase}, {status.Stat(CrawlStats.PagesFetched)} pages and {status.Stat(CrawlStats.ImagesFetched)} images fetched " +
            $"({status.PagesAdmitted} pages admitted, {status.Pending} pending, {status.SlicesDone} slices done, {status.SlicesRunning} out), {status.WarcFiles.Count} WARC files";
        var refused = status.Stats.Where(s => s.Key.StartsWith("page_", StringComparison.Ordinal) || s.Key.StartsWith("image_", StringComparison.Ordinal))
            .Where(s => s.Key is not CrawlStats.PagesFetched and not CrawlStats.ImagesFetched)
            .Select(s => $"{s.Key}={s.Value}").ToList();
        if (refused.Count > 0) crawled += "; not fetched: " + string.Join(", ", refused);
        if (status.Ingest is { } ingest) crawled += Environment.NewLine + "  ingest " + IngestClusterCommands.Describe(ingest);
        if (status.Error is not null) crawled += Environment.NewLine + "  error: " + status.Error;
        return crawled;
    }
}
