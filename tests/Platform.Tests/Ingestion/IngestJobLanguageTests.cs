using System.Text;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

/// <summary>Pages that declare no language: the job identifies it from the text, as `ingest run` does, so the language filter applies to them.</summary>
public sealed class IngestJobLanguageTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-lang-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private const string EnglishText =
        "The old harbour was quiet in the morning and the boats were still tied up. " +
        "People walked along the river and looked at the water under the bridge. " +
        "There is a market in the village where they sell bread and fish every day. " +
        "It was the first time that we had seen the painted houses of the town. " +
        "Nobody knew what the weather would be like when the evening came. " +
        "They said that the museum would be open for all of the people who came.";

    private const string GermanText =
        "Der alte Hafen war am Morgen ruhig und die Boote lagen noch fest. " +
        "Die Leute gingen am Fluss entlang und sahen auf das Wasser unter der Brücke. " +
        "Es gibt einen Markt in dem Dorf, wo sie jeden Tag Brot und Fisch verkaufen. " +
        "Es war das erste Mal, dass wir die bemalten Häuser der Stadt gesehen hatten. " +
        "Niemand wusste, wie das Wetter sein würde, wenn der Abend kam. " +
        "Sie sagten, dass das Museum für alle Leute, die kamen, offen sein würde.";

    private string WriteDump()
    {
        var path = Path.Combine(root, "undeclared.warc.gz");
        using var file = File.Create(path);
        using var writer = new WarcWriter(file);
        void Page(string url, string text, string alt) => writer.WriteResponse(url, 200, [new("Content-Type", "text/html; charset=utf-8")],
            Encoding.UTF8.GetBytes($"<html><head><title>{alt}</title></head><body><p>{text}</p><img src=\"/picture.jpg\" alt=\"{alt}\"></body></html>"));
        Page("http://english.example/", EnglishText, "Boats tied up in the quiet old harbour");
        Page("http://german.example/", GermanText, "Boote im ruhigen alten Hafen am Morgen");
        return path;
    }

    [Fact]
    public async Task Pages_without_a_declared_language_are_identified_and_filtered_as_ingest_run_does_unless_detection_is_off()
    {
        var input = WriteDump();
        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 1);
        foreach (var detect in new[] { true, false })
        {
            var settings = new IngestJobSettings { DetectLanguage = detect };
            var single = Path.Combine(root, $"single-{detect}");
            await ExtractAsIngestRunDoesAsync(input, single, settings);
            var distributed = Path.Combine(root, $"job-{detect}");
            var job = cluster.Client.GetGrain<IIngestJobGrain>($"lang-{detect}-" + Guid.NewGuid().ToString("N"));
            await job.Submit(new IngestJobRequest([input], distributed, settings));
            var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(1));
            Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
            IngestInputs.AssertSameOutputs(single, distributed);

            var candidates = File.ReadAllText(Path.Combine(distributed, "candidates.jsonl"));
            Assert.Contains("http://english.example/picture.jpg", candidates);
            Assert.Equal(detect ? 1 : 0, IngestInputs.Rejections(distributed, "language_not_allowed"));
            Assert.Equal(!detect, candidates.Contains("http://german.example/picture.jpg", StringComparison.Ordinal));
            // The cleaned text follows the same language decision.
            var text = File.ReadAllText(Path.Combine(distributed, "text.jsonl"));
            Assert.Contains("quiet in the morning", text);
            Assert.Equal(!detect, text.Contains("Hafen war am Morgen", StringComparison.Ordinal));
        }
    }

    private static Task ExtractAsIngestRunDoesAsync(string input, string output, IngestJobSettings settings) =>
        ExtractCommandRunner.RunAsync([input], output, IngestJobOptions.Extraction(settings),
            languageDetector: IngestJobOptions.LanguageDetector(settings), cancellationToken: TestContext.Current.CancellationToken);
}
