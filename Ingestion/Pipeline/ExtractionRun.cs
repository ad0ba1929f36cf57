using System.Diagnostics;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Html;
using Platform.Ingestion.Http;
using Platform.Ingestion.Text;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Pipeline;

public sealed class ExtractionOptions
{
    public WarcReaderOptions Warc { get; init; } = new();
    public AltTextFilterOptions AltText { get; init; } = new();
    public FrequencyFilterOptions Frequency { get; init; } = new();
    public TextCleaningOptions Text { get; init; } = new();
    /// <summary>Produce cleaned page text for the text-only corpus (default on).</summary>
    public bool ExtractText { get; init; } = true;
    /// <summary>Largest page body after de-chunking and decompression (default 8 MiB); bigger ones are rejected.</summary>
    public int MaxDecodedBodyBytes { get; init; } = 8 << 20;
    /// <summary>How often progress is reported at most.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);
}

/// <param name="Pairs">Pairs that passed the per-pair filters so far (the run-wide filters come at the end).</param>
public readonly record struct ExtractionProgress(string Source, long BytesRead, long Records, long Pages, long Pairs);

/// <summary>
/// The decompressed bytes one <see cref="ExtractionRun.AddWarc"/> read: its records' offsets count from <paramref name="DecompressedStart"/>,
/// and the next byte range of the same file begins <paramref name="DecompressedBytes"/> further on.
/// </summary>
public readonly record struct WarcExtent(long DecompressedStart, long DecompressedBytes);

/// <summary>Receives what a run produces. Implementations write files, queues, or collect in memory.</summary>
public interface IExtractionSink
{
    void Accepted(PairCandidate candidate);
    void Rejected(PairCandidate candidate, string reason);
    void Text(TextDocument document);
}

/// <summary>Optional language identification: of pages that do not declare one, and of every alt text.</summary>
public interface ILanguageDetector
{
    /// <summary>Primary language subtag (`en`) or null when unsure.</summary>
    string? Detect(string text);
}

/// <summary>
/// The per-pair stages of extraction over any number of inputs (WARC, WAT, URL lists): inputs are added one by one
/// (each is a work unit: a file or a byte range as a stream); responses, pages, the per-pair filters and text
/// cleaning happen as they stream. Pairs that pass go to the spool; the run-wide stages that need every pair
/// first (<see cref="Stages.CountPairsStage"/>, <see cref="Stages.FrequencyFilterStage"/>) are the executor's to run.
/// Spool, image index and span set are interfaces so a distributed executor can supply its own.
/// </summary>
public sealed class ExtractionRun : IDisposable
{
    public const string ResponsesStage = "responses";
    public const string PagesStage = "pages";
    public const string CandidatesStage = "candidates";
    public const string FrequencyStage = "frequency";
    public const string TextStage = "text";

        private readonly IExtractionSink sink;
    private readonly AltTextFilter filter;
    private readonly C4TextCleaner cleaner;
    private readonly HtmlExtractor extractor = new();
    private readonly ILanguageDetector? languageDetector;

    public ExtractionRun(
        ExtractionOptions options,
        IExtractionSink sink,
        ICandidateSpool? spool = null,
        IImageIndex? images = null,
        ISpanDeduplicator? spans = null,
        ILanguageDetector? languageDetector = null)
    {
        Options = options;
        this.sink = sink;
        this.languageDetector = languageDetector;
        Spool = spool ?? new InMemoryCandidateSpool();
        Images = images ?? new InProcessImageIndex();
        filter = new AltTextFilter(Options.AltText, languageDetector);
        cleaner = new C4TextCleaner(Options.Text, spans ?? new InProcessSpanDeduplicator());
    }

    public ExtractionOptions Options { get; }
    public FunnelStats Stats { get; } = new();
    /// <summary>The pairs that passed the per-pair filters, in input order.</summary>
    public ICandidateSpool Spool { get; }
    public IImageIndex Images { get; }
    public long Pages { get; private set; }

    /// <summary>Reads one WARC (or WAT, detected from its metadata records) and processes every record; the stream stays open.</summary>
    /// <param name="inputOffset">Where in the file <paramref name="input"/> begins when it is a byte range of it (see <see cref="WarcReader"/>).</param>
    /// <returns>Where the records' offsets count from, and the decompressed length read.</returns>
    public WarcExtent AddWarc(Stream input, string source, IProgress<ExtractionProgress>? progress = null, CancellationToken cancellationToken = default,
        long inputOffset = 0)
    {
        // Extraction is a batch job: background GC would only compete with it for the core.
        var latency = System.Runtime.GCSettings.LatencyMode;
        System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch;
        try
        {
            return ReadWarc(input, source, progress, cancellationToken, inputOffset);
        }
        finally
        {
            System.Runtime.GCSettings.LatencyMode = latency;
        }
    }

    private WarcExtent ReadWarc(Stream input, string source, IProgress<ExtractionProgress>? progress, CancellationToken cancellationToken, long inputOffset)
    {
        using var reader = new WarcReader(input, Stats, Options.Warc, leaveOpen: true, inputOffset);
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        long records = 0;
        foreach (var record in reader.ReadAll(cancellationToken))
        {
            records++;
            ProcessRecord(record, source);
            if (progress is not null && (records & 31) == 0 && clock.Elapsed - lastReport >= Options.ProgressInterval)
            {
                lastReport = clock.Elapsed;
                progress.Report(new ExtractionProgress(source, reader.BytesConsumed, records, Pages, Stats.Stage(CandidatesStage).Passed));
            }
        }
        progress?.Report(new ExtractionProgress(source, reader.BytesConsumed, records, Pages, Stats.Stage(CandidatesStage).Passed));
        return new WarcExtent(reader.DecompressedStart, reader.DecompressedBytes);
    }

    private void ProcessRecord(WarcRecord record, string source)
    {
        switch (record.Type)
        {
            case "response" when record.IsHttp:
                ProcessHttpResponse(record, source);
                break;
            case "resource":
                ProcessBody(record, source, record.TargetUri, HttpResponse.ParseContentType(record.ContentType), record.Block, null, 0, RobotsDirectives.None, null);
                break;
            case "metadata" when record.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true:
                Sources.WatReader.Process(record, source, this);
                break;
            default:
                Stats.Note(ResponsesStage, "skipped_record_type_" + (record.Type.Length == 0 ? "none" : record.Type));
                break;
        }
    }

    private void ProcessHttpResponse(WarcRecord record, string source)
    {
        Stats.Enter(ResponsesStage);
        var block = record.Block;
        if (!HttpResponse.TryParse(block.Span, out var response))
        {
            Stats.Reject(ResponsesStage, "malformed_http");
            return;
        }
        if (response.StatusCode is < 200 or > 299)
        {
            Stats.Reject(ResponsesStage, response.StatusCode is >= 300 and < 400 ? "http_redirect" : $"http_status_{response.StatusCode / 100}xx");
            return;
        }
        var contentType = HttpResponse.ParseContentType(response.Header("Content-Type"));
        var robots = Robots.Parse(response.HeaderAll("X-Robots-Tag"));
        ProcessBody(record, source, record.TargetUri, contentType, block[response.BodyOffset..], response, response.BodyOffset, robots, response.Header("Content-Language"));
    }

    private void ProcessBody(WarcRecord record, string source, string? uri, (string MediaType, string? Charset) contentType,
        ReadOnlyMemory<byte> raw, HttpResponse? response, int bodyOffset, RobotsDirectives headerRobots, string? contentLanguage)
    {
        if (response is null) Stats.Enter(ResponsesStage);
        if (uri is null)
        {
            Stats.Reject(ResponsesStage, "no_target_uri");
            return;
        }
        var body = raw;
        if (response is not null && !HttpBody.TryDecode(response, raw, Options.MaxDecodedBodyBytes, out body, out var failure))
        {
            Stats.Reject(ResponsesStage, failure ?? "bad_body");
            return;
        }
        var kind = ContentSniffer.Classify(contentType.MediaType, body.Span);
        if (kind == ContentKind.Image)
        {
            if (!contentType.MediaType.StartsWith("image/", StringComparison.Ordinal)) Stats.Note(ResponsesStage, "mislabelled_image");
            Images.Add(new DumpedImage(uri, source, record.RecordId, record.Offset, record.CompressedOffset,
                contentType.MediaType, body.Length, headerRobots));
            Stats.Pass(ResponsesStage);
            Stats.Note(ResponsesStage, "images");
            return;
        }
        if (kind != ContentKind.Html)
        {
            Stats.Reject(ResponsesStage, contentType.MediaType.StartsWith("image/", StringComparison.Ordinal) ? "mislabelled_not_image" : "not_html_or_image");
            return;
        }
        Stats.Pass(ResponsesStage);
        ProcessPage(source, uri, body, contentType.Charset, headerRobots, contentLanguage);
    }

    private void ProcessPage(string source, string uri, ReadOnlyMemory<byte> body, string? charset, RobotsDirectives headerRobots, string? contentLanguage)
    {
        Pages++;
        Stats.Enter(PagesStage);
        var utf8 = CharsetDecoder.ToUtf8(body, charset, out var usedCharset);
        if (usedCharset != "utf-8") Stats.Note(PagesStage, "charset_" + usedCharset);
        var page = extractor.Extract(utf8.Span, uri, Options.ExtractText);
        page.Charset = usedCharset;
        page.Robots |= headerRobots;
        if (page.Language is null && contentLanguage is not null)
            page.Language = contentLanguage.Split(',')[0].Trim().Split('-')[0].ToLowerInvariant() is { Length: >= 2 and <= 3 } lang ? lang : null;
        if (page.Language is null && languageDetector is not null)
        {
            // Without extracted text (--no-text) the title alone is often a word or two; the alt texts add to it.
            page.Language = languageDetector.Detect(page.Text ?? string.Join(' ', page.Images.Select(i => i.AltText).Prepend(page.Title)));
            Stats.Note(PagesStage, page.Language is null ? "language_undetected" : "language_detected");
        }
        Stats.Pass(PagesStage);
        if (page.UnusableImageUrls > 0)
        {
            Stats.Enter(CandidatesStage, page.UnusableImageUrls);
            Stats.Reject(CandidatesStage, "image_url_not_http", page.UnusableImageUrls);
        }
        foreach (var image in page.Images)
        {
            Offer(new PairCandidate
            {
                PageUrl = uri,
                ImageUrl = image.ImageUrl,
                AltText = image.AltText,
                Language = page.Language,
                PageTitle = page.Title,
                Width = image.Width,
                Height = image.Height,
                Origin = image.Origin,
                PageRobots = page.Robots,
                Source = source,
            });
        }
        if (Options.ExtractText) OfferText(uri, page.Language, page.Title, page.TextBuffer.Span);
    }

    /// <summary>Runs the per-pair filters on a candidate from any input; kept ones are spooled.</summary>
    public void Offer(PairCandidate candidate)
    {
        Stats.Enter(CandidatesStage);
        var reason = filter.Check(new CandidateFacts(candidate.AltText, candidate.Language, candidate.PageRobots, RobotsDirectives.None));
        if (reason is not null)
        {
            Stats.Reject(CandidatesStage, reason);
            sink.Rejected(candidate, reason);
            return;
        }
        Stats.Pass(CandidatesStage);
        Spool.Append(candidate);
    }

    private void OfferText(string uri, string? language, string? title, ReadOnlySpan<char> text)
    {
        Stats.Enter(TextStage);
        var document = cleaner.Clean(uri, language, title, text, out var rejection);
        if (document is null)
        {
            Stats.Reject(TextStage, rejection ?? "rejected");
            return;
        }
        Stats.Pass(TextStage);
        sink.Text(document);
    }

    /// <summary>Ends the per-pair stages once every input is added: the text stage notes the lines its cleaner dropped, by rule.</summary>
    public void Complete()
    {
        foreach (var (rule, count) in cleaner.TakeLinesDropped()) Stats.Note(TextStage, "lines_dropped_" + rule, count);
    }

    public void Dispose() => Spool.Dispose();
}
