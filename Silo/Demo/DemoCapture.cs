using Platform.Ingestion.Crawling;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Html;

namespace Platform.Silo.Demo;

/// <summary>What the capture fetched and what robots.txt kept it from.</summary>
/// <param name="WarcFiles">The web dump: per-record gzip WARC files with each request and response.</param>
/// <param name="RobotsDisallowedPages">Pages linked from the site that robots.txt disallows, never requested.</param>
public sealed record DemoCaptureSummary(IReadOnlyList<string> WarcFiles, int Pages, int Images, int RobotsDisallowedPages, long Bytes);

/// <summary>
/// Captures a site into a web dump the way a web archive's crawler does: robots.txt first, then the pages breadth first from
/// the home page, each page's images, every response archived with its request through the platform's WARC writer
/// (<see cref="CrawlArchive"/>). Like Common Crawl, it archives what it may fetch and leaves the judging (opt-outs in meta
/// tags and X-Robots-Tag, broken files, languages) to the ingest; only robots.txt keeps it from requesting a URL.
/// One request at a time, in page order, so a site gives the same dump every time.
/// </summary>
public static class DemoCapture
{
    public const string UserAgent = "PlatformDemoCrawler/1.0 (+the platform demo; honours robots.txt)";

    public static async Task<DemoCaptureSummary> RunAsync(Uri site, string outputDirectory, string filePrefix, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = System.Net.DecompressionMethods.None });
        http.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);
        using var archive = new CrawlArchive(outputDirectory, filePrefix, long.MaxValue, UserAgent);
        long bytes = 0;

        var robotsUri = new Uri(site, "/robots.txt");
        var robotsAnswer = await FetchAsync(http, robotsUri, cancellationToken);
        bytes += archive.Write(robotsUri, robotsAnswer.Status, robotsAnswer.Headers, robotsAnswer.Body);
        var robots = robotsAnswer.Status == 200
            ? RobotsRules.Parse(System.Text.Encoding.UTF8.GetString(robotsAnswer.Body), UserAgent.Split('/')[0])
            : RobotsRules.AllowEverything;

        var extractor = new HtmlExtractor();
        var seen = new HashSet<string>(StringComparer.Ordinal) { site.AbsoluteUri };
        var pages = new Queue<Uri>([site]);
        var seenImages = new HashSet<string>(StringComparer.Ordinal);
        int pageCount = 0, imageCount = 0, disallowed = 0;
        while (pages.TryDequeue(out var page))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var answer = await FetchAsync(http, page, cancellationToken);
            bytes += archive.Write(page, answer.Status, answer.Headers, answer.Body);
            pageCount++;
            if (answer.Status != 200) continue;
            var html = extractor.Extract(answer.Body, page.AbsoluteUri, collectText: false, collectLinks: true);
            foreach (var image in html.Images)
            {
                if (!Uri.TryCreate(image.ImageUrl, UriKind.Absolute, out var imageUri) || !seenImages.Add(imageUri.AbsoluteUri)) continue;
                if (!robots.IsAllowed(imageUri.PathAndQuery)) continue;
                var picture = await FetchAsync(http, imageUri, cancellationToken);
                bytes += archive.Write(imageUri, picture.Status, picture.Headers, picture.Body);
                imageCount++;
            }
            foreach (var link in html.Links)
            {
                if (!Uri.TryCreate(link, UriKind.Absolute, out var linkUri) || linkUri.Authority != site.Authority) continue;
                var withoutFragment = new UriBuilder(linkUri) { Fragment = "" }.Uri;
                if (!seen.Add(withoutFragment.AbsoluteUri)) continue;
                if (robots.IsAllowed(withoutFragment.PathAndQuery)) pages.Enqueue(withoutFragment);
                else disallowed++;
            }
        }
        archive.Dispose();
        return new DemoCaptureSummary(archive.Files, pageCount, imageCount, disallowed, bytes);
    }

    private sealed record Answer(int Status, List<KeyValuePair<string, string>> Headers, byte[] Body);

    private static async Task<Answer> FetchAsync(HttpClient http, Uri uri, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var headers = response.Headers.Concat(response.Content.Headers)
            .SelectMany(h => h.Value.Select(v => new KeyValuePair<string, string>(h.Key, v))).ToList();
        return new Answer((int)response.StatusCode, headers, body);
    }
}
