using CsCheck;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Html;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Text;
using Xunit;

namespace Platform.Ingestion.Tests.Text;

public class LinguaLanguageDetectorTests
{
    private readonly LinguaLanguageDetector detector = LinguaLanguageDetector.Shared;

    // Alt-text sized: under the high-accuracy threshold, where the low-accuracy models mislabel.
    [Theory]
    [InlineData("en", "A red fishing boat tied up in the harbour")]
    [InlineData("fr", "Un bateau de pêche rouge amarré dans le port")]
    [InlineData("de", "Ein rotes Fischerboot im Hafen festgemacht")]
    [InlineData("es", "Un barco de pesca rojo amarrado en el puerto")]
    [InlineData("it", "Una barca da pesca rossa ormeggiata nel porto")]
    [InlineData("nl", "Een rode vissersboot aangemeerd in de haven")]
    [InlineData("pt", "Um barco de pesca vermelho atracado no porto")]
    [InlineData("pl", "Czerwona łódź rybacka zacumowana w porcie")]
    [InlineData("sv", "En röd fiskebåt förtöjd i hamnen")]
    [InlineData("ru", "Красная рыбацкая лодка в гавани")]
    [InlineData("ja", "港に停泊している赤い漁船")]
    public void Identifies_short_alt_texts(string expected, string text) => Assert.Equal(expected, detector.Detect(text));

    // Two or three words, often shared with other languages: the answer may be null, but never another language.
    [Theory]
    [InlineData("en", "Filtering options")]
    [InlineData("fr", "Options de filtrage")]
    [InlineData("fr", "[le menu « Actions »]")]
    [InlineData("en", "[Minesweeper screen #1]")]
    [InlineData("de", "Der Hund schläft")]
    [InlineData("es", "Niveles de coste de seguridad")]
    public void Labels_a_very_short_text_correctly_or_not_at_all(string expected, string text) =>
        Assert.Contains(detector.Detect(text), new[] { expected, null });

    [Fact]
    public void A_remembered_answer_is_the_answer_identification_gives()
    {
        string[] texts =
        [
            "A red fishing boat tied up in the harbour", "Un bateau de pêche rouge amarré dans le port",
            "Ein rotes Fischerboot im Hafen festgemacht", "Filtering options", "Options de filtrage",
            "Красная рыбацкая лодка в гавани", "港に停泊している赤い漁船", "Niveles de coste de seguridad",
        ];
        var forgetting = new LinguaLanguageDetector(new LinguaLanguageDetectorOptions { RememberedShortTexts = 0 });
        // Two places: the table fills and is emptied while the texts repeat, so answers come from memory and from identification.
        var remembering = new LinguaLanguageDetector(new LinguaLanguageDetectorOptions { RememberedShortTexts = 2 });
        var expected = texts.Select(forgetting.Detect).ToArray();
        Assert.Contains("fr", expected);
        Assert.Contains("en", expected);
        for (var round = 0; round < 3; round++)
            for (var i = 0; i < texts.Length; i++)
            {
                Assert.Equal(expected[i], remembering.Detect(texts[i]));
                Assert.Equal(expected[i], remembering.Detect(texts[i]));
            }
    }

    // Page sized: over the threshold, so the low-accuracy models decide.
    [Theory]
    [InlineData("en", "The river runs through the old town and past the mill. Visitors often stop at the bridge to watch the boats, and in spring the banks are covered with flowers.")]
    [InlineData("de", "Der Fluss fließt durch die Altstadt und an der Mühle vorbei. Besucher bleiben oft auf der Brücke stehen, um die Boote zu sehen, und im Frühling ist das Ufer voller Blumen.")]
    [InlineData("fr", "La rivière traverse la vieille ville et passe devant le moulin. Les visiteurs s'arrêtent souvent sur le pont pour regarder les bateaux, et au printemps les berges sont couvertes de fleurs.")]
    [InlineData("es", "El río atraviesa el casco antiguo y pasa junto al molino. Los visitantes se detienen a menudo en el puente para ver los barcos, y en primavera las orillas están cubiertas de flores.")]
    [InlineData("it", "Il fiume attraversa il centro storico e passa accanto al mulino. I visitatori si fermano spesso sul ponte per guardare le barche, e in primavera le rive sono coperte di fiori.")]
    [InlineData("nl", "De rivier stroomt door de oude stad en langs de molen. Bezoekers blijven vaak op de brug staan om naar de boten te kijken, en in de lente zijn de oevers bedekt met bloemen.")]
    [InlineData("pt", "O rio atravessa a cidade velha e passa pelo moinho. Os visitantes param muitas vezes na ponte para ver os barcos, e na primavera as margens estão cobertas de flores.")]
    [InlineData("sv", "Floden rinner genom den gamla staden och förbi kvarnen. Besökare stannar ofta på bron för att se båtarna, och på våren är stränderna täckta av blommor.")]
    [InlineData("ru", "Москва — столица России, крупнейший по численности населения город страны и её политический, экономический и культурный центр.")]
    public void Identifies_prose(string expected, string text)
    {
        Assert.True(text.Length >= new LinguaLanguageDetectorOptions().HighAccuracyBelowCharacters);
        Assert.Equal(expected, detector.Detect(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("ok")]
    [InlineData("4032x3024 (12)")]
    public void Answers_null_on_text_with_too_few_letters(string text) => Assert.Null(detector.Detect(text));

    [Fact]
    public void Answers_null_when_the_winner_is_not_confident()
    {
        // "Information" is spelled the same in English, French and German: no language gets a clear majority.
        var strict = new LinguaLanguageDetector(new LinguaLanguageDetectorOptions { MinimumConfidence = 0.99 });
        Assert.Null(strict.Detect("Information"));
        Assert.Equal("fr", strict.Detect("La rivière traverse la vieille ville et passe devant le moulin, où les visiteurs s'arrêtent souvent."));
    }

    [Fact]
    public void Never_throws_and_answers_a_configured_language_or_null_on_any_text() =>
        Gen.String.Sample(text =>
        {
            var language = detector.Detect(text);
            Assert.True(language is null || LinguaLanguageDetector.DefaultLanguages.Contains(language), language);
        }, iter: 300);

    [Fact]
    public void Only_the_configured_languages_models_are_in_the_output()
    {
        var models = Path.Combine(AppContext.BaseDirectory, "Lingua", "LanguageModels");
        var shipped = Directory.GetDirectories(models).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(LinguaLanguageDetector.DefaultLanguages.Order(), shipped);
        Assert.False(Directory.Exists(Path.Combine(models, "fi")));
        var bytes = Directory.GetFiles(models, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        // All 79 languages are 72 MB; the twelve default ones about 13 MB.
        Assert.InRange(bytes, 1, 16 << 20);
    }

    [Fact]
    public void A_filter_allowing_a_language_the_detector_cannot_name_gets_no_detector()
    {
        Assert.Same(LinguaLanguageDetector.ForAllowedLanguages(["de", "en"]), LinguaLanguageDetector.ForAllowedLanguages(["en", "DE"]));
        Assert.Same(LinguaLanguageDetector.Shared, LinguaLanguageDetector.ForAllowedLanguages([]));
        Assert.Null(LinguaLanguageDetector.ForAllowedLanguages(["en", "fi"]));
    }

    [Theory]
    [InlineData("Un bateau de pêche rouge amarré dans le port", "alt_language_not_allowed")]
    [InlineData("Ein rotes Fischerboot im Hafen festgemacht", "alt_language_not_allowed")]
    [InlineData("A red fishing boat tied up in the harbour", null)]
    public void An_alt_text_in_a_language_not_allowed_is_rejected_on_an_allowed_page(string alt, string? expected)
    {
        var filter = new AltTextFilter(new AltTextFilterOptions(), detector);
        Assert.Equal(expected, filter.Check(new CandidateFacts(alt, "en", RobotsDirectives.None, RobotsDirectives.None)));
    }

    [Fact]
    public void An_alt_text_the_detector_abstains_on_is_kept_and_the_page_language_still_decides()
    {
        var abstaining = new FixedDetector(null);
        var filter = new AltTextFilter(new AltTextFilterOptions(), abstaining);
        Assert.Null(filter.Check(new CandidateFacts("three plain words", "en", RobotsDirectives.None, RobotsDirectives.None)));
        Assert.Null(filter.Check(new CandidateFacts("three plain words", null, RobotsDirectives.None, RobotsDirectives.None)));
        Assert.Equal("language_not_allowed", filter.Check(new CandidateFacts("three plain words", "fr", RobotsDirectives.None, RobotsDirectives.None)));
        Assert.Equal(2, abstaining.Calls);
        // With the language filter off the alt text is not even looked at.
        var off = new AltTextFilter(new AltTextFilterOptions { Languages = new HashSet<string>() }, new FixedDetector("fr"));
        Assert.Null(off.Check(new CandidateFacts("trois mots simples", "en", RobotsDirectives.None, RobotsDirectives.None)));
    }

    private sealed class FixedDetector(string? answer) : ILanguageDetector
    {
        public int Calls { get; private set; }
        public string? Detect(string text) { Calls++; return answer; }
    }
}
