using System.Text;
using System.Text.RegularExpressions;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Text;
using Platform.Ingestion.Warc;
using Xunit;

namespace Platform.Ingestion.Tests.Text;

/// <summary>
/// The language filter on real pages no one on the project wrote: Debian's aptitude manual, as its English,
/// French and Spanish documentation packages (aptitude-doc-en/fr/es) install it, with every `lang` attribute
/// (DocBook puts them on the content's divs) removed so that the pages declare no language and the identifier has to decide, on the page text and on
/// each alt text (screenshot captions such as "[solveur de dépendances nº 1]").
/// </summary>
public sealed partial class DebianManualLanguageTests(ITestOutputHelper output)
{
    private const string Manuals = "/usr/share/doc/aptitude/html";

    /// <summary>The detector the hosts give the default (English) filter.</summary>
    private static readonly ILanguageDetector EnglishFilterDetector = LinguaLanguageDetector.ForAllowedLanguages(["en"])!;

    [GeneratedRegex(@"\s(?:xml:)?lang=""[^""]*""", RegexOptions.IgnoreCase)]
    private static partial Regex LangAttribute();

    /// <param name="declared">The language the page then declares on its html element, or null for none.</param>
    private static byte[] WarcOfManual(string language, out int pages, string? declared = null)
    {
        var files = Directory.GetFiles(Path.Combine(Manuals, language), "*.html").Order(StringComparer.Ordinal).ToArray();
        pages = files.Length;
        var warc = new MemoryStream();
        using (var writer = new WarcWriter(warc, leaveOpen: true))
            foreach (var file in files)
            {
                var html = LangAttribute().Replace(File.ReadAllText(file), "");
                Assert.DoesNotContain("lang=", html, StringComparison.OrdinalIgnoreCase);
                if (declared is not null) html = html.Replace("<html ", $"<html lang=\"{declared}\" ", StringComparison.Ordinal);
                writer.WriteResponse($"http://manual.test/{language}/{Path.GetFileName(file)}", 200,
                    [new("Content-Type", "text/html; charset=utf-8")], Encoding.UTF8.GetBytes(html));
            }
        return warc.ToArray();
    }

    /// <summary>Of the pairs that passed every other filter (so reached the language checks), how many were kept.</summary>
    private static (int Kept, int ReachedLanguage, int AltRejections) Run(byte[] warc, ILanguageDetector? detector)
    {
        var sink = new CollectingSink();
        using var run = new ExtractionRun(new ExtractionOptions(), sink, languageDetector: detector);
        run.AddWarc(new MemoryStream(warc), "manual.warc", cancellationToken: TestContext.Current.CancellationToken);
        FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);
        var languageRejections = sink.Rejected.Count(r => r.Reason is "language_not_allowed" or "alt_language_not_allowed");
        return (sink.Accepted.Count, sink.Accepted.Count + languageRejections, sink.Rejected.Count(r => r.Reason == "alt_language_not_allowed"));
    }

    [Theory]
    [InlineData("fr", 0.9)]
    [InlineData("es", 0.9)]
    public void The_default_English_filter_rejects_most_pairs_of_undeclared_foreign_manual_pages(string language, double minimumRejected)
    {
        ExternalTools.RequireOrSkip(Directory.Exists(Path.Combine(Manuals, language)), $"Debian package aptitude-doc-{language}");
        var warc = WarcOfManual(language, out var pages);
        var (kept, reached, altRejections) = Run(warc, EnglishFilterDetector);
        var (keptWithout, _, _) = Run(warc, detector: null);
        var rejected = 1 - (double)kept / reached;
        output.WriteLine($"{language}: {pages} pages, {reached} pairs reached the language checks, {kept} kept, {reached - kept} rejected ({rejected:P1}; {altRejections} by the alt text alone); without identification {keptWithout} kept");
        Assert.True(reached >= 30, $"only {reached} pairs reached the language checks");
        Assert.Equal(reached, keptWithout);
        Assert.True(rejected >= minimumRejected, $"{rejected:P1} of {language} pairs rejected, expected at least {minimumRejected:P0}");
    }

    [Fact]
    public void The_default_English_filter_keeps_the_pairs_of_undeclared_English_manual_pages()
    {
        ExternalTools.RequireOrSkip(Directory.Exists(Path.Combine(Manuals, "en")), "Debian package aptitude-doc-en");
        var (kept, reached, altRejections) = Run(WarcOfManual("en", out var pages), EnglishFilterDetector);
        output.WriteLine($"en: {pages} pages, {reached} pairs reached the language checks, {kept} kept ({(double)kept / reached:P1}; {altRejections} rejected by the alt text)");
        Assert.True(reached >= 30, $"only {reached} pairs reached the language checks");
        Assert.True(kept >= 0.95 * reached, $"only {kept} of {reached} English pairs kept");
    }

    /// <summary>
    /// A site template that declares English on its translations: the page language passes, and only the alt
    /// texts' own language can tell. The Spanish manual's screenshot captions were left untranslated (English).
    /// </summary>
    [Theory]
    [InlineData("fr", 0.9, 1.0)]
    [InlineData("es", 0.0, 0.1)]
    public void Alt_texts_alone_reject_the_foreign_pairs_of_pages_that_wrongly_declare_English(string language, double minimumRejected, double maximumRejected)
    {
        ExternalTools.RequireOrSkip(Directory.Exists(Path.Combine(Manuals, language)), $"Debian package aptitude-doc-{language}");
        var (kept, reached, altRejections) = Run(WarcOfManual(language, out var pages, declared: "en"), EnglishFilterDetector);
        var rejected = 1 - (double)kept / reached;
        output.WriteLine($"{language} declared en: {pages} pages, {reached} pairs reached the language checks, {kept} kept, {altRejections} rejected by the alt text ({rejected:P1})");
        Assert.True(reached >= 30, $"only {reached} pairs reached the language checks");
        Assert.Equal(reached - kept, altRejections);
        Assert.InRange(rejected, minimumRejected, maximumRejected);
    }
}
