using System.Globalization;
using System.Text.Json;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Sources;
using Platform.Ingestion.Text;
using Platform.Ingestion.Units;

namespace Platform.Grains.Ingestion;

/// <summary>
/// One work unit of a distributed extraction: one input, or a part of it, through the per-pair filters, leaving in its
/// own directory the pairs waiting for the job-wide frequency filter (spool.jsonl), the per-pair
/// rejections, the text documents (their spans deduped within the unit, with every span call logged so the
/// final phase can dedupe across units), the images found and the unit's funnel. A unit attempt owns its
/// directory, so a stale worker of a lost attempt never mixes its files with the redo.
/// </summary>
public static class IngestUnitExtraction
{
    public const string SpoolFile = "spool.jsonl";
    public const string ImagesFile = "images.jsonl";
    public const string StatsFile = "stats.json";
    /// <summary>Every span dedupe call of the unit, in call order (<see cref="RecordingSpanDeduplicator"/>).</summary>
    public const string SpansFile = "spans.bin";
    /// <summary>Per line of text.jsonl: the document's first span call and how many it made ("first count").</summary>
    public const string TextSpansFile = "text-spans.txt";

    public static ExtractionOptions Options(IngestJobSettings settings)
    {
        var languages = settings.Languages.ToHashSet(StringComparer.Ordinal);
        return new()
        {
            Frequency = FrequencyOptions(settings),
            ExtractText = settings.ExtractText,
            AltText = new AltTextFilterOptions { Languages = languages },
            Text = new TextCleaningOptions { Languages = languages },
        };
    }

    /// <summary>The detector a unit runs with: as `ingest run`, pages that declare no language get one from their text unless the job turned that off.</summary>
    public static ILanguageDetector? LanguageDetector(IngestJobSettings settings) => settings.DetectLanguage ? new StopwordLanguageDetector() : null;

    public static FrequencyFilterOptions FrequencyOptions(IngestJobSettings settings) => new()
    {
        MaxImagesPerAltText = settings.MaxImagesPerAltText,
        MaxAltTextsPerImage = settings.MaxAltTextsPerImage,
    };

    /// <param name="inputs">Opens the input: a local file, or a blob streamed as it is read.</param>
    public static async Task<UnitReport> RunAsync(InputUnit unit, string directory, ExtractionOptions options, DumpInputs inputs, ILanguageDetector? languageDetector,
        CancellationToken cancellationToken)
    {
        var input = unit.Input;
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        Directory.CreateDirectory(directory);
        var images = new InProcessImageIndex();
        // Spans are deduped within the unit here; the finisher redoes that step with the answers of the whole job.
        using var spanLog = new FileStream(Path.Combine(directory, SpansFile), FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        using var textSpans = new StreamWriter(Path.Combine(directory, TextSpansFile)) { NewLine = "\n" };
        var spans = new RecordingSpanDeduplicator(new InProcessSpanDeduplicator(), spanLog);
        using var sink = new TextCountingSink(new JsonLinesSink(directory), spans, textSpans);
        using var run = new ExtractionRun(options, sink, new HeldBackSpool(Path.Combine(directory, SpoolFile)), new CountedByTheJob(), images, spans, languageDetector);
        long inputLength = 0;
        var extent = await InputUnitReader.AddAsync(run, unit, OpenInput(input, inputs, length => inputLength = length), cancellationToken: cancellationToken);
        run.Finish(cancellationToken);
        using (var writer = new JsonLinesFile(Path.Combine(directory, ImagesFile)))
            foreach (var image in images.All) writer.Line(image.WriteJson);
        await File.WriteAllTextAsync(Path.Combine(directory, StatsFile), run.Stats.ToJson(), cancellationToken);
        return new UnitReport((unit.End ?? inputLength) - unit.Start, run.Pages, run.Stats.Stage(ExtractionRun.CandidatesStage).Passed, sink.Texts,
            extent.DecompressedStart, extent.DecompressedBytes);
    }

    /// <summary>Where a unit reads its input's bytes from (a local file or a blob): the one place that opens an input. Notes the whole input's size.</summary>
    private static OpenInputRange OpenInput(string input, DumpInputs inputs, Action<long> inputLength) => async (start, length, cancellationToken) =>
    {
        var opened = await inputs.OpenAsync(input, start, cancellationToken);
        inputLength(opened.Length);
        return length is { } n ? new ByteRangeStream(opened.Stream, n) : opened.Stream;
    };

    /// <summary>
    /// Keeps the unit's pairs on disk for the job's final phase and hands nothing back to the unit's own
    /// <see cref="ExtractionRun.Finish"/>, which then only records the text cleaner's line-drop counts:
    /// the frequency stage can only run once every unit is counted.
    /// </summary>
    private sealed class HeldBackSpool(string path) : ICandidateSpool
    {
        private readonly JsonLinesFile file = new(path);

        public void Append(PairCandidate candidate) => file.Line(json => candidate.WriteJson(json));

        public IEnumerable<PairCandidate> ReadAll() => [];

        public void Dispose() => file.Dispose();
    }

    /// <summary>The job counts pairs from the units' spools in its final phase (so a lost count partition can be recounted); a unit counts nothing.</summary>
    private sealed class CountedByTheJob : IPairFrequencyCounter
    {
        public void Observe(string imageUrl, string altText) { }

        public int DistinctImagesFor(string altText) => throw new InvalidOperationException("Frequency counts are job-wide; a work unit cannot answer them.");

        public int DistinctAltTextsFor(string imageUrl) => throw new InvalidOperationException("Frequency counts are job-wide; a work unit cannot answer them.");
    }

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

    /// <summary>Reads back a spool written by a unit.</summary>
    public static IEnumerable<PairCandidate> ReadSpool(string path)
    {
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            using var document = JsonDocument.Parse(line);
            yield return PairCandidate.ReadJson(document.RootElement);
        }
    }
}

/// <summary>JSON lines written exactly as the single-process sinks write them (relaxed escaping), so outputs compare byte for byte.</summary>
public sealed class JsonLinesFile : IDisposable
{
    private readonly FileStream stream;
    private readonly Utf8JsonWriter json;

    public JsonLinesFile(string path, FileMode mode = FileMode.Create)
    {
        stream = new FileStream(path, mode, FileAccess.Write, FileShare.Read, 1 << 16);
        json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public Stream Stream => stream;

    public void Line(Action<Utf8JsonWriter> write)
    {
        write(json);
        json.Flush();
        json.Reset();
        stream.WriteByte((byte)'\n');
    }

    public void Dispose()
    {
        json.Dispose();
        stream.Dispose();
    }
}
