using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Text;

namespace Platform.Grains.Ingestion;

/// <summary>The stages' options for a job's settings: what `ingest run` runs with to give the same dataset.</summary>
public static class IngestJobOptions
{
    public static ExtractionOptions Extraction(IngestJobSettings settings)
    {
        var languages = settings.Languages.ToHashSet(StringComparer.Ordinal);
        return new()
        {
            Frequency = new FrequencyFilterOptions
            {
                MaxImagesPerAltText = settings.MaxImagesPerAltText,
                MaxAltTextsPerImage = settings.MaxAltTextsPerImage,
            },
            ExtractText = settings.ExtractText,
            AltText = new AltTextFilterOptions { Languages = languages },
            Text = new TextCleaningOptions { Languages = languages },
        };
    }

    /// <summary>Pages that declare no language get one from their text, and alt texts their own, unless the job turned that off.</summary>
    public static ILanguageDetector? LanguageDetector(IngestJobSettings settings) =>
        settings.DetectLanguage ? LinguaLanguageDetector.ForAllowedLanguages(settings.Languages) : null;

    public static DedupeOptions Dedupe(IngestJobSettings settings) => new()
    {
        ByUrl = settings.DedupeByUrl,
        ByImageBytes = settings.DedupeByImageBytes,
        MaxImageHammingDistance = settings.MaxImageHammingDistance,
    };

    public static IngestRunOptions Run(IngestJobSettings settings) => new()
    {
        Extraction = Extraction(settings),
        Dedupe = Dedupe(settings),
        Shards = new ShardWriterOptions { SamplesPerShard = settings.SamplesPerShard },
        DetectLanguage = settings.DetectLanguage,
    };

    public static int ShardCount(long pairsKept, IngestJobSettings settings) => (int)((pairsKept + settings.SamplesPerShard - 1) / settings.SamplesPerShard);
}
