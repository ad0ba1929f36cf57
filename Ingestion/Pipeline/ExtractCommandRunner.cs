using Platform.Ingestion.Sources;
using Platform.Ingestion.Stages;

namespace Platform.Ingestion.Pipeline;

public sealed record ExtractSummary(long InputBytes, long Pages, long PairsKept, long TextDocuments, FunnelStats Stats);

/// <summary>
/// `platform ingest extract`: every input (WARC/WAT, gzip or not, or a URL list by extension) into
/// candidates.jsonl, rejected.jsonl, text.jsonl, images.jsonl (image responses found in the dump)
/// and stats.json in the output directory.
/// </summary>
public static class ExtractCommandRunner
{
    public static async Task<ExtractSummary> RunAsync(IReadOnlyList<string> inputs, string outDirectory, ExtractionOptions options,
        UrlListOptions? urlListOptions = null, IProgress<ExtractionProgress>? progress = null, ILanguageDetector? languageDetector = null,
        CancellationToken cancellationToken = default)
    {
        foreach (var input in inputs)
            if (!File.Exists(input)) throw new FileNotFoundException($"Input not found: {input}", input);
        Directory.CreateDirectory(outDirectory);
        var counting = new CountingSink(new JsonLinesSink(outDirectory));
        var images = new InProcessImageIndex();
        long bytes = 0;
        using (var run = new ExtractionRun(options, counting, new FileCandidateSpool(Path.Combine(outDirectory, ".spool.jsonl")), images: images, languageDetector: languageDetector))
        {
            foreach (var input in inputs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var completed = bytes;
                var perFile = progress is null ? null : new InlineProgress<ExtractionProgress>(p => progress.Report(p with { BytesRead = completed + p.BytesRead }));
                await using var stream = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                if (UrlListOptions.FormatOf(input) is { } format)
                    await UrlListReader.AddAsync(run, stream, format, input, urlListOptions, cancellationToken);
                else
                    run.AddWarc(stream, input, perFile, cancellationToken);
                bytes += new FileInfo(input).Length;
            }
            var kept = FrequencyFilterStage.RunInProcess(run, counting, cancellationToken);
            using (var writer = new JsonLinesWriter(Path.Combine(outDirectory, IngestJobLayout.ImagesFile)))
                foreach (var image in images.All) writer.Line(image.WriteJson);
            await File.WriteAllTextAsync(Path.Combine(outDirectory, IngestJobLayout.StatsFile), run.Stats.ToJson(), cancellationToken);
            counting.Dispose();
            return new ExtractSummary(bytes, run.Pages, kept, counting.Texts, run.Stats);
        }
    }
}
