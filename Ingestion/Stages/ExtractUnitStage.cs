using System.Globalization;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Text;
using Platform.Ingestion.Units;

namespace Platform.Ingestion.Stages;

/// <summary>What one unit's extraction saw; <paramref name="TextDocuments"/> counts before the job-wide span dedupe, which may reject some.</summary>
/// <param name="Extent">For a WARC unit, where its record offsets count from and how many decompressed bytes it read.</param>
public sealed record ExtractedUnit(long InputBytes, long Pages, long PairsPassed, long TextDocuments, WarcExtent Extent);

/// <summary>
/// The first stage of a cluster job: one work unit (an input, or a part of it) through the per-pair stages into its own
/// <see cref="UnitFolder"/>: the pairs that passed (the spool, for the job-wide count and frequency stages), the per-pair
/// rejections, the text documents (their spans deduped within the unit, with every span call logged so
/// <see cref="FinishStage"/> can dedupe across units), the images found and the unit's funnel. The folder is emptied
/// first, so a redo never mixes with a lost attempt's files.
/// </summary>
public static class ExtractUnitStage
{
    /// <param name="inputs">Opens the input: a local file, or a blob streamed as it is read.</param>
    public static async Task<ExtractedUnit> RunAsync(InputUnit unit, UnitFolder folder, ExtractionOptions options, DumpInputs inputs,
        ILanguageDetector? languageDetector, CancellationToken cancellationToken)
    {
        if (Directory.Exists(folder.Path)) Directory.Delete(folder.Path, recursive: true);
        Directory.CreateDirectory(folder.Path);
        var images = new InProcessImageIndex();
        // Spans are deduped within the unit here; the finish stage redoes that step with the answers of the whole job.
        using var spanLog = new FileStream(folder.Spans, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        using var textSpans = new StreamWriter(folder.TextSpans) { NewLine = "\n" };
        var spans = new RecordingSpanDeduplicator(new InProcessSpanDeduplicator(), spanLog);
        using var sink = new TextCountingSink(new JsonLinesSink(folder.Path), spans, textSpans);
        using var run = new ExtractionRun(options, sink, new FileCandidateSpool(folder.Spool, keep: true), images, spans, languageDetector);
        long inputLength = 0;
        var extent = await InputUnitReader.AddAsync(run, unit, OpenInput(unit.Input, inputs, length => inputLength = length), cancellationToken: cancellationToken);
        run.Complete();
        using (var writer = new JsonLinesWriter(folder.Images))
            foreach (var image in images.All) writer.Line(image.WriteJson);
        await File.WriteAllTextAsync(folder.Stats, run.Stats.ToJson(), cancellationToken);
        return new ExtractedUnit((unit.End ?? inputLength) - unit.Start, run.Pages, run.Stats.Stage(ExtractionRun.CandidatesStage).Passed, sink.Texts, extent);
    }

    /// <summary>Where a unit reads its input's bytes from (a local file or a blob): the one place that opens an input. Notes the whole input's size.</summary>
    private static OpenInputRange OpenInput(string input, DumpInputs inputs, Action<long> inputLength) => async (start, length, cancellationToken) =>
    {
        var opened = await inputs.OpenAsync(input, start, cancellationToken);
        inputLength(opened.Length);
        return length is { } n ? new ByteRangeStream(opened.Stream, n) : opened.Stream;
    };

    /// <summary>Counts the text documents and notes which span calls each one made (its last ones, just before it is handed over).</summary>
    private sealed class TextCountingSink(JsonLinesSink inner, RecordingSpanDeduplicator spans, StreamWriter textSpans) : IExtractionSink, IDisposable
    {
        public long Texts { get; private set; }
        public void Accepted(PairCandidate candidate) => inner.Accepted(candidate);
        public void Rejected(PairCandidate candidate, string reason) => inner.Rejected(candidate, reason);

        public void Text(TextDocument document)
        {
            Texts++;
            inner.Text(document);
            textSpans.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{spans.Calls - document.Spans} {document.Spans}"));
        }

        public void Dispose() => inner.Dispose();
    }
}
