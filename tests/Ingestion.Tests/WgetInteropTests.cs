using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Stages;

namespace Platform.Ingestion.Tests;

/// <summary>
/// WARC files written by an independent writer: GNU wget crawls a loopback server started here,
/// and every (page, image URL, alt) triple the pages contain must come out of our extraction.
/// </summary>
public sealed class WgetInteropTests : IDisposable
{
    private static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R'];
    private readonly HttpListener listener = new();
    private readonly string root;
    private readonly string directory = Path.Combine(Path.GetTempPath(), $"wget-{Guid.NewGuid():N}");

    public WgetInteropTests()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        root = $"http://127.0.0.1:{port}/";
        listener.Prefixes.Add(root);
        listener.Start();
        _ = Task.Run(ServeAsync);
    }

    private Dictionary<string, Func<HttpListenerResponse, byte[]>> Site() => new()
    {
        ["/index.html"] = r => Html(r, """
            <html lang="en"><head><title>Harbour &amp; coast</title></head><body>
            <a href="latin.html">latin</a> <a href="base.html">base</a> <a href="redirect">moved</a>
            <a href="missing.html">missing</a> <a href="chunked.html">chunked</a>
            <img src="img/lighthouse.png" alt="A red &amp; white   lighthouse on the coast">
            <img src="img/small.png" srcset="img/small.png 300w, img/large.png 1200w" alt="A wide view of the harbour at dawn">
            <img src="//127.0.0.1:PORT/img/proto.png" alt="Boats moored in the small harbour">
            </body></html>
            """.Replace("PORT", new Uri(root).Port.ToString())),
        ["/latin.html"] = r =>
        {
            r.ContentType = "text/html; charset=iso-8859-1";
            return Encoding.Latin1.GetBytes("<html lang=fr><body><img src=\"img/cafe.png\" alt=\"Un caf&eacute; pr\u00e8s de la gare\"></body></html>");
        },
        ["/base.html"] = r => Html(r, "<html><head><base href=\"/assets/\"></head><body><img src=\"based.png\" alt=\"An image resolved against the base\"></body></html>"),
        ["/redirect"] = r =>
        {
            r.StatusCode = 302;
            r.RedirectLocation = root + "moved.html";
            return [];
        },
        ["/moved.html"] = r => Html(r, "<html><body><img src=\"/img/moved.png\" alt=\"A page reached through a redirect\"></body></html>"),
        ["/chunked.html"] = r =>
        {
            r.ContentType = "text/html; charset=utf-8";
            r.SendChunked = true;
            r.AddHeader("Content-Encoding", "gzip");
            var ms = new MemoryStream();
            using (var gz = new GZipStream(ms, CompressionLevel.Fastest, true))
                gz.Write(Encoding.UTF8.GetBytes("<html><body>" + new string(' ', 20000) + "<img src=\"/img/chunked.png\" alt=\"Served in chunks and compressed\"></body></html>"));
            return ms.ToArray();
        },
    };

    private static byte[] Html(HttpListenerResponse response, string html)
    {
        response.ContentType = "text/html; charset=utf-8";
        return Encoding.UTF8.GetBytes(html);
    }

    private async Task ServeAsync()
    {
        var site = Site();
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            var path = context.Request.Url!.AbsolutePath;
            var response = context.Response;
            byte[] body;
            if (site.TryGetValue(path, out var handler)) body = handler(response);
            else if (path.EndsWith(".png", StringComparison.Ordinal))
            {
                response.ContentType = "image/png";
                body = Png;
            }
            else
            {
                response.StatusCode = 404;
                response.ContentType = "text/html";
                body = "<html><body><img src=\"/img/notfound.png\" alt=\"Should never be extracted from a 404\"></body></html>"u8.ToArray();
            }
            if (!response.SendChunked) response.ContentLength64 = body.Length;
            await response.OutputStream.WriteAsync(body);
            response.Close();
        }
    }

    [Fact]
    public void Every_triple_in_a_wget_crawl_is_extracted()
    {
        ExternalTools.RequireOrSkip(ExternalTools.FindOnPath("wget") is not null, "GNU wget");
        Directory.CreateDirectory(directory);
        var warcBase = Path.Combine(directory, "crawl");
        var (code, _, error) = ExternalTools.Run("wget",
        [
            "--recursive", "--level=2", "--page-requisites", "--no-verbose", "-e", "robots=off",
            "--directory-prefix", Path.Combine(directory, "files"), "--warc-file", warcBase, "--tries=1", "--timeout=10",
            root + "index.html",
        ], directory);
        Assert.True(code is 0 or 8, $"wget exited {code}: {error}");
        var warc = warcBase + ".warc.gz";
        Assert.True(File.Exists(warc), error);

        var sink = new CollectingSink();
        using var run = new ExtractionRun(new ExtractionOptions(), sink);
        using (var file = File.OpenRead(warc)) run.AddWarc(file, warc, cancellationToken: TestContext.Current.CancellationToken);
        FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);

        var found = sink.Accepted.Concat(sink.Rejected.Select(r => r.Candidate))
            .Select(c => (c.PageUrl, c.ImageUrl, c.AltText)).ToHashSet();
        var expected = new[]
        {
            ("index.html", "img/lighthouse.png", "A red & white lighthouse on the coast"),
            ("index.html", "img/large.png", "A wide view of the harbour at dawn"),
            ("index.html", "img/proto.png", "Boats moored in the small harbour"),
            ("latin.html", "img/cafe.png", "Un café près de la gare"),
            ("base.html", "assets/based.png", "An image resolved against the base"),
            ("moved.html", "img/moved.png", "A page reached through a redirect"),
            ("chunked.html", "img/chunked.png", "Served in chunks and compressed"),
        };
        foreach (var (page, image, alt) in expected)
            Assert.Contains((root + page, root + image, alt), found);
        Assert.DoesNotContain(found, t => t.ImageUrl.EndsWith("notfound.png", StringComparison.Ordinal));

        var lighthouse = sink.Accepted.Single(c => c.ImageUrl.EndsWith("lighthouse.png", StringComparison.Ordinal));
        Assert.True(lighthouse.ImageInDump);
        Assert.Equal("en", lighthouse.Language);
        Assert.Equal("Harbour & coast", lighthouse.PageTitle);
        Assert.Equal("language_not_allowed", sink.Rejected.Single(r => r.Candidate.ImageUrl.EndsWith("cafe.png", StringComparison.Ordinal)).Reason);
        Assert.True(run.Stats.Rejections(ExtractionRun.ResponsesStage, "http_status_4xx") >= 1);
        Assert.True(run.Stats.Rejections(ExtractionRun.ResponsesStage, "http_redirect") >= 1);
        Assert.Equal(0, run.Stats.Notes(Warc.WarcReader.Stage, "block_digest_mismatch"));
        Assert.Equal(0, run.Stats.Notes(Warc.WarcReader.Stage, "payload_digest_mismatch"));
        Assert.Equal(0, run.Stats.Stage(Warc.WarcReader.Stage).RejectedTotal);
    }

    public void Dispose()
    {
        listener.Close();
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }
}
