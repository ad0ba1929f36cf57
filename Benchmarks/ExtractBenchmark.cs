using System.Diagnostics;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Text;
using Platform.Ingestion.Warc;

namespace Platform.Benchmarks;

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
    /// <param name="languageDetector">Identify page and alt-text languages as ingestion does by default; its models load during the warm-up run.</param>
    public static ExtractBenchmarkResult Run(string path, ExtractionOptions? options = null, CancellationToken cancellationToken = default,
        ILanguageDetector? languageDetector = null)
    {
        options ??= new ExtractionOptions();
        // Warm the page cache and the JIT so neither side pays first-touch costs.
        TimeGzip(path);
        RunExtraction(path, options, languageDetector, cancellationToken);

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
            counts = RunExtraction(path, options, languageDetector, cancellationToken);
            extract = Math.Min(extract, clock.Elapsed.TotalSeconds);
            self.Refresh();
            extractCpu = Math.Min(extractCpu, (self.TotalProcessorTime - cpuBefore).TotalSeconds);
        }
        var (pages, pairs, texts, records) = counts;
        return new ExtractBenchmarkResult(new FileInfo(path).Length, records, extract, gzip, extractCpu, gzipCpu, pages, pairs, texts);
    }

    private static (long Pages, long Pairs, long Texts, long Records) RunExtraction(string path, ExtractionOptions options,
        ILanguageDetector? languageDetector, CancellationToken cancellationToken)
    {
        var sink = new CountingSink();
        using var run = new ExtractionRun(options, sink, languageDetector: languageDetector);
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
}
