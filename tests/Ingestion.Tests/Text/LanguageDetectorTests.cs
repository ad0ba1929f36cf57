using CsCheck;
using Platform.Ingestion.Text;
using Xunit;

namespace Platform.Ingestion.Tests.Text;

public class LanguageDetectorTests
{
    private readonly StopwordLanguageDetector detector = new();

    [Theory]
    [InlineData("en", "The river runs through the old town and past the mill. Visitors often stop at the bridge to watch the boats, and in spring the banks are covered with flowers.")]
    [InlineData("de", "Der Fluss fließt durch die Altstadt und an der Mühle vorbei. Besucher bleiben oft auf der Brücke stehen, um die Boote zu sehen, und im Frühling ist das Ufer voller Blumen.")]
    [InlineData("fr", "La rivière traverse la vieille ville et passe devant le moulin. Les visiteurs s'arrêtent souvent sur le pont pour regarder les bateaux, et au printemps les berges sont couvertes de fleurs.")]
    [InlineData("es", "El río atraviesa el casco antiguo y pasa junto al molino. Los visitantes se detienen a menudo en el puente para ver los barcos, y en primavera las orillas están cubiertas de flores.")]
    [InlineData("it", "Il fiume attraversa il centro storico e passa accanto al mulino. I visitatori si fermano spesso sul ponte per guardare le barche, e in primavera le rive sono coperte di fiori che non si vedono altrove.")]
    [InlineData("nl", "De rivier stroomt door de oude stad en langs de molen. Bezoekers blijven vaak op de brug staan om naar de boten te kijken, en in de lente zijn de oevers bedekt met bloemen.")]
    [InlineData("pt", "O rio atravessa a cidade velha e passa pelo moinho. Os visitantes param muitas vezes na ponte para ver os barcos, e na primavera as margens estão cobertas de flores que não se vêem em mais nenhum lugar.")]
    [InlineData("sv", "Floden rinner genom den gamla staden och förbi kvarnen. Besökare stannar ofta på bron för att se båtarna, och på våren är stränderna täckta av blommor som inte finns någon annanstans.")]
    public void Identifies_prose_in_each_profiled_language(string expected, string text) =>
        Assert.Equal(expected, detector.Detect(text));

    [Theory]
    [InlineData("")]
    [InlineData("Login")]
    [InlineData("IMG_2041.jpg 4032x3024")]
    [InlineData("Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor")]
    [InlineData("Москва — столица России, крупнейший по численности населения город страны")]
    public void Answers_null_rather_than_guess_on_short_foreign_or_wordless_text(string text) =>
        Assert.Null(detector.Detect(text));

    [Fact]
    public void Never_throws_and_answers_a_profiled_language_or_null_on_any_text() =>
        Gen.String.Sample(text =>
        {
            var language = detector.Detect(text);
            Assert.True(language is null or "en" or "de" or "fr" or "es" or "it" or "nl" or "pt" or "sv");
        }, iter: 2000);
}
