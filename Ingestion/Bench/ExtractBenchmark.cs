using System.Diagnostics;
using System.Text;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Text;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Bench;

/// <summary>
/// Times are best-of-two. Wall time is what a quiet single core would see; CPU time (user + system
/// of the extracting process, and of gzip) is the same cost measured so that other load on a
/// shared machine does not distort it. The ratio on the last line uses CPU time.
/// </summary>
public sealed record ExtractBenchmarkResult(long FileBytes, long Records, double ExtractSeconds, double GzipSeconds,
    double ExtractCpuSeconds, double GzipCpuSeconds, long Pages, long Pairs, long TextDocuments)
{
    public double ExtractVsGzip => ExtractCpuSeconds / GzipCpuSeconds;

    public IEnumerable<string> Lines()
    {
        var mb = FileBytes / 1e6;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        yield return string.Create(inv, $"file_mb={mb:F1} records={Records}");
        yield return string.Create(inv, $"extract_seconds={ExtractSeconds:F3} extract_cpu_seconds={ExtractCpuSeconds:F3} extract_mb_per_s={mb / ExtractCpuSeconds:F1} pages={Pages} pairs={Pairs} pairs_per_s={Pairs / ExtractCpuSeconds:F0} text_documents={TextDocuments}");
        yield return string.Create(inv, $"gzip_seconds={GzipSeconds:F3} gzip_cpu_seconds={GzipCpuSeconds:F3} gzip_mb_per_s={mb / GzipCpuSeconds:F1}");
        yield return string.Create(inv, $"extract_vs_gzip_wall={ExtractSeconds / GzipSeconds:F2}");
        yield return string.Create(inv, $"extract_vs_gzip={ExtractVsGzip:F2}");
    }
}

/// <summary>
/// `platform bench extract FILE`: the full extraction (WARC parsing, HTTP decoding, HTML extraction,
/// filters, text cleaning) against `gzip -dc FILE &gt; /dev/null` on the same file in the same run.
/// </summary>
public static class ExtractBenchmark
{
    public static ExtractBenchmarkResult Run(string path, ExtractionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ExtractionOptions();
        // Warm the page cache and the JIT so neither side pays first-touch costs.
        TimeGzip(path);
        RunExtraction(path, options, cancellationToken);

        // Alternate the two twice and keep each side's best, so a burst of load from other
        // processes does not decide the ratio.
        double gzip = double.MaxValue, gzipCpu = double.MaxValue, extract = double.MaxValue, extractCpu = double.MaxValue;
        (long Pages, long Pairs, long Texts, long Records) counts = default;
        using var self = Process.GetCurrentProcess();
        for (var round = 0; round < 2; round++)
        {
            var (gzipWall, gzipCpuTime) = TimeGzip(path);
            gzip = Math.Min(gzip, gzipWall);
            gzipCpu = Math.Min(gzipCpu, gzipCpuTime);
            self.Refresh();
            var cpuBefore = self.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            counts = RunExtraction(path, options, cancellationToken);
            extract = Math.Min(extract, clock.Elapsed.TotalSeconds);
            self.Refresh();
            extractCpu = Math.Min(extractCpu, (self.TotalProcessorTime - cpuBefore).TotalSeconds);
        }
        var (pages, pairs, texts, records) = counts;
        return new ExtractBenchmarkResult(new FileInfo(path).Length, records, extract, gzip, extractCpu, gzipCpu, pages, pairs, texts);
    }

    private static (long Pages, long Pairs, long Texts, long Records) RunExtraction(string path, ExtractionOptions options, CancellationToken cancellationToken)
    {
        var sink = new CountingSink();
        using var run = new ExtractionRun(options, sink);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            run.AddWarc(file, path, cancellationToken: cancellationToken);
        FrequencyFilterStage.RunInProcess(run, sink, cancellationToken);
        return (run.Pages, sink.Accepted, sink.Texts, run.Stats.Stage(WarcReader.Stage).Passed);
    }

    /// <summary>Wall time, and the CPU time the shell's `times` reports for its gzip child.</summary>
    private static (double Wall, double Cpu) TimeGzip(string path)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("gzip -dc \"$1\" > /dev/null || exit $?; times");
        start.ArgumentList.Add("sh");
        start.ArgumentList.Add(path);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start gzip");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        var wall = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0) throw new InvalidOperationException($"gzip -dc failed ({process.ExitCode}): {error}");
        var lines = output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var children = lines.Length >= 2 ? lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
        var cpu = children.Length == 2 ? ShellTime(children[0]) + ShellTime(children[1]) : wall;
        return (wall, cpu > 0 ? cpu : wall);
    }

    /// <summary>Parses `1m2.345s`, the shell's `times` format.</summary>
    private static double ShellTime(string value)
    {
        var m = value.IndexOf('m');
        if (m < 0 || !value.EndsWith('s')) return 0;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return double.Parse(value[..m], inv) * 60 + double.Parse(value[(m + 1)..^1], inv);
    }

    private sealed class CountingSink : IExtractionSink
    {
        public long Accepted { get; private set; }
        public long Texts { get; private set; }
        void IExtractionSink.Accepted(PairCandidate candidate) => Accepted++;
        void IExtractionSink.Rejected(PairCandidate candidate, string reason) { }
        void IExtractionSink.Text(TextDocument document) => Texts++;
    }

    /// <summary>
    /// Writes an HTML-heavy per-record-gzip WARC of about <paramref name="targetBytes"/> (compressed):
    /// pages of realistic markup (head, scripts, styles, navigation, paragraphs, images with srcset
    /// and lazy attributes), request and metadata records, and some image responses.
    /// </summary>
    public static void GenerateHtmlHeavyWarc(string path, long targetBytes, int seed = 1)
    {
        var random = new Random(seed);
        string[] words = ["harbour", "river", "mountain", "village", "market", "bridge", "garden", "station", "museum", "festival",
            "morning", "evening", "light", "stone", "water", "people", "street", "history", "season", "photograph", "old", "small",
            "quiet", "busy", "green", "golden", "walk", "visit", "build", "paint", "carry", "follow", "the", "a", "of", "in", "on", "with"];
        string Sentence(int n)
        {
            var sb = new StringBuilder();
            for (var i = 0; i < n; i++)
            {
                var word = words[random.Next(words.Length)];
                sb.Append(i == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : " " + word);
            }
            return sb.Append('.').ToString();
        }
        using var file = File.Create(path);
        using var writer = new WarcWriter(file, gzipPerRecord: true, leaveOpen: true);
        writer.WriteWarcInfo(Path.GetFileName(path), [new("software", "platform bench generator")]);
        var page = 0;
        var image = new byte[8 * 1024];
        while (file.Position < targetBytes)
        {
            var html = new StringBuilder();
            html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(Sentence(6)).Append("</title>");
            html.Append("<meta name=\"viewport\" content=\"width=device-width\"><link rel=\"stylesheet\" href=\"/css/site.css\">");
            html.Append("<style>.nav{display:flex}.card{margin:0 auto;padding:12px}</style>");
            html.Append("<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());</script></head><body>");
            html.Append("<nav class=\"nav\"><ul>");
            for (var i = 0; i < 15; i++) html.Append("<li class=\"nav-item\"><a href=\"/section/").Append(i).Append("\" class=\"nav-link\">").Append(words[random.Next(words.Length)]).Append("</a></li>");
            html.Append("</ul></nav><main><article>");
            for (var p = 0; p < 25; p++)
            {
                html.Append("<div class=\"card\"><div class=\"card-body\"><p class=\"text\">");
                for (var s = 0; s < 4; s++) html.Append(Sentence(8 + random.Next(10))).Append(' ');
                html.Append("<a href=\"/story/").Append(random.Next()).Append("\">").Append(Sentence(3)).Append("</a></p>");
                if (p % 3 == 0)
                {
                    var id = random.Next(200_000);
                    html.Append("<figure><img src=\"/img/").Append(id).Append("-320.jpg\" srcset=\"/img/").Append(id).Append("-320.jpg 320w, /img/").Append(id)
                        .Append("-1024.jpg 1024w\" alt=\"").Append(Sentence(4 + random.Next(8)).TrimEnd('.')).Append("\" width=\"1024\" height=\"683\" loading=\"lazy\">")
                        .Append("<figcaption>").Append(Sentence(6)).Append("</figcaption></figure>");
                }
                if (p % 7 == 0) html.Append("<img class=\"lazy\" src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\" data-src=\"/img/lazy-").Append(random.Next()).Append(".jpg\" alt=\"").Append(Sentence(5).TrimEnd('.')).Append("\">");
                html.Append("</div></div>");
            }
            html.Append("</article></main><footer><p>&copy; 2024 Example &amp; Co. All rights reserved.</p><img src=\"/img/logo.png\" alt=\"logo\"></footer>");
            html.Append("<script src=\"/js/app.js\"></script></body></html>");
            var uri = $"http://bench{page % 97}.example/page/{page}.html";
            var request = writer.WriteRequest(uri);
            var response = writer.WriteResponse(uri, 200, [new("Content-Type", "text/html; charset=utf-8"), new("Server", "bench")], Encoding.UTF8.GetBytes(html.ToString()), request);
            writer.WriteMetadata(uri, response, [new("fetchTimeMs", random.Next(1000).ToString(System.Globalization.CultureInfo.InvariantCulture))]);
            if (page % 10 == 0)
            {
                random.NextBytes(image);
                image[0] = 0xFF; image[1] = 0xD8; image[2] = 0xFF;
                writer.WriteResponse($"http://bench{page % 97}.example/img/{page}.jpg", 200, [new("Content-Type", "image/jpeg")], image);
            }
            page++;
        }
    }
}
