using System.Text;
using System.Text.Json;
using Platform.Benchmarks;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;
using Platform.Ingestion.Stages;

namespace Platform.Ingestion.Tests;

public sealed class ExtractCommandRunnerTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), $"extract-{Guid.NewGuid():N}");

    public ExtractCommandRunnerTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public async Task Writes_candidates_rejections_text_images_and_a_funnel()
    {
        var warc = Path.Combine(directory, "in.warc.gz");
        HtmlHeavyWarcGenerator.Write(warc, 300_000);
        var list = Path.Combine(directory, "list.tsv");
        await File.WriteAllTextAsync(list, "url\tcaption\nhttp://list.test/a.jpg\tA caption from the list\n", TestContext.Current.CancellationToken);
        var reports = new List<ExtractionProgress>();
        var progress = new Collect(reports);
        var outDir = Path.Combine(directory, "out");

        var summary = await ExtractCommandRunner.RunAsync([warc, list], outDir, new ExtractionOptions { ProgressInterval = TimeSpan.Zero }, progress: progress,
            cancellationToken: TestContext.Current.CancellationToken);

        var candidates = (await File.ReadAllLinesAsync(Path.Combine(outDir, "candidates.jsonl"), TestContext.Current.CancellationToken)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var rejected = (await File.ReadAllLinesAsync(Path.Combine(outDir, "rejected.jsonl"), TestContext.Current.CancellationToken)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(summary.PairsKept, candidates.Count);
        Assert.True(candidates.Count > 10);
        foreach (var field in new[] { "page_url", "image_url", "alt_text", "lang", "image_in_dump" }) Assert.True(candidates[0].TryGetProperty(field, out _), field);
        Assert.Contains(candidates, c => c.GetProperty("image_url").GetString() == "http://list.test/a.jpg");
        Assert.Contains(rejected, r => r.GetProperty("reason").GetString() == "alt_too_short" && r.GetProperty("alt_text").GetString() == "logo");
        Assert.Equal(summary.TextDocuments, (await File.ReadAllLinesAsync(Path.Combine(outDir, "text.jsonl"), TestContext.Current.CancellationToken)).Length);
        Assert.True(summary.TextDocuments > 0);
        Assert.NotEmpty(await File.ReadAllLinesAsync(Path.Combine(outDir, "images.jsonl"), TestContext.Current.CancellationToken));

        using var stats = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "stats.json"), TestContext.Current.CancellationToken));
        var stages = stats.RootElement.GetProperty("stages").EnumerateArray().ToDictionary(s => s.GetProperty("stage").GetString()!);
        var candidatesStage = stages[ExtractionRun.CandidatesStage];
        var rejectedTotal = candidatesStage.GetProperty("rejected").EnumerateObject().Sum(p => p.Value.GetInt64());
        Assert.Equal(candidatesStage.GetProperty("in").GetInt64(), candidatesStage.GetProperty("passed").GetInt64() + rejectedTotal);
        Assert.Equal(candidates.Count, stages[ExtractionRun.FrequencyStage].GetProperty("passed").GetInt64());

        Assert.NotEmpty(reports);
        Assert.Equal(new FileInfo(warc).Length, reports[^1].BytesRead);
        Assert.False(File.Exists(Path.Combine(outDir, ".spool.jsonl")));
    }

    [Fact]
    public void A_run_stops_when_cancelled()
    {
        var warc = Path.Combine(directory, "in.warc.gz");
        HtmlHeavyWarcGenerator.Write(warc, 1_500_000);
        using var cancel = new CancellationTokenSource();
        var progress = new Collect([], _ => cancel.Cancel());
        using var run = new ExtractionRun(new ExtractionOptions { ProgressInterval = TimeSpan.Zero }, new CollectingSink());
        using var file = File.OpenRead(warc);
        Assert.Throws<OperationCanceledException>(() => run.AddWarc(file, warc, progress, cancel.Token));
        Assert.True(file.Position < file.Length);
    }

    [Fact]
    public void A_huge_single_line_page_under_the_cap_is_processed_and_one_over_it_is_skipped()
    {
        var line = new StringBuilder("<html lang=en><body>");
        while (line.Length < 6_000_000) line.Append("<span class=\"w\">word and more words</span>");
        line.Append("<img src=\"/big.jpg\" alt=\"The image at the end of a very long line\"></body></html>");
        var output = new MemoryStream();
        using (var writer = new WarcWriter(output, leaveOpen: true))
        {
            writer.WriteResponse("http://big.test/", 200, [new("Content-Type", "text/html")], Encoding.UTF8.GetBytes(line.ToString()));
            writer.WriteResponse("http://small.test/", 200, [new("Content-Type", "text/html")], "<img src='s.jpg' alt='A small page after the big one'>"u8);
        }
        var sink = new CollectingSink();
        using (var run = new ExtractionRun(new ExtractionOptions(), sink))
        {
            run.AddWarc(new MemoryStream(output.ToArray()), "big", cancellationToken: TestContext.Current.CancellationToken);
            FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);
        }
        Assert.Equal(["http://big.test/big.jpg", "http://small.test/s.jpg"], sink.Accepted.Select(c => c.ImageUrl));

        var capped = new CollectingSink();
        using var cappedRun = new ExtractionRun(new ExtractionOptions { Warc = new WarcReaderOptions { MaxRecordBytes = 1 << 20 } }, capped);
        cappedRun.AddWarc(new MemoryStream(output.ToArray()), "big", cancellationToken: TestContext.Current.CancellationToken);
        FrequencyFilterStage.RunInProcess(cappedRun, capped, TestContext.Current.CancellationToken);
        Assert.Equal(["http://small.test/s.jpg"], capped.Accepted.Select(c => c.ImageUrl));
        Assert.Equal(1, cappedRun.Stats.Rejections(WarcReader.Stage, "record_too_large"));
    }

    private sealed class Collect(List<ExtractionProgress> reports, Action<ExtractionProgress>? also = null) : IProgress<ExtractionProgress>
    {
        public void Report(ExtractionProgress value)
        {
            reports.Add(value);
            also?.Invoke(value);
        }
    }
}
