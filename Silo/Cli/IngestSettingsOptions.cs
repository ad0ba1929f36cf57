using System.CommandLine;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Filters;

namespace Platform.Silo.Cli;

/// <summary>
/// The ingestion settings that `ingest extract`, `ingest run` and `ingest submit` share: each option declared once (name,
/// default, parsing) and bound to the settings once, so the commands cannot drift apart. A command adds the options it
/// takes where they belong in its help, and may word an option's help for itself.
/// </summary>
internal sealed class IngestSettingsOptions
{
    public Option<string> Lang { get; } = new("--lang") { Description = "Allowed languages, comma separated, or 'off'.", DefaultValueFactory = _ => "en" };

    public Option<bool> NoLangDetect { get; } = new("--no-lang-detect")
    {
        Description = "Identify no language from text: pages that declare none, and alt texts, are left unlabelled (and kept).",
    };

    public Option<bool> NoText { get; } = new("--no-text") { Description = "Skip the cleaned page text." };

    public Option<int> MaxImagesPerAlt { get; } = new("--max-images-per-alt") { Description = "Drop alt texts shared by more images (ALIGN: 10).", DefaultValueFactory = _ => 10 };

    public Option<int> MaxAltsPerImage { get; } = new("--max-alts-per-image") { Description = "Drop images with more alt texts (ALIGN: 1000).", DefaultValueFactory = _ => 1000 };

    public Option<int> SamplesPerShard { get; } = new("--samples-per-shard") { Description = "Attempted samples per shard.", DefaultValueFactory = _ => 10_000 };

    public IReadOnlySet<string> AllowedLanguages(ParseResult result) => AltTextFilterOptions.ParseLanguages(result.GetValue(Lang)!);

    public bool DetectLanguage(ParseResult result) => !result.GetValue(NoLangDetect);

    public bool ExtractText(ParseResult result) => !result.GetValue(NoText);

    public FrequencyFilterOptions Frequency(ParseResult result) =>
        new() { MaxImagesPerAltText = result.GetValue(MaxImagesPerAlt), MaxAltTextsPerImage = result.GetValue(MaxAltsPerImage) };

    /// <summary>The settings of a cluster job, from every shared option (the languages in a fixed order, so the job's state does not depend on how they were listed).</summary>
    public IngestJobSettings JobSettings(ParseResult result)
    {
        var frequency = Frequency(result);
        return new IngestJobSettings
        {
            MaxImagesPerAltText = frequency.MaxImagesPerAltText,
            MaxAltTextsPerImage = frequency.MaxAltTextsPerImage,
            ExtractText = ExtractText(result),
            SamplesPerShard = result.GetValue(SamplesPerShard),
            Languages = [.. AllowedLanguages(result).Order(StringComparer.Ordinal)],
            DetectLanguage = DetectLanguage(result),
        };
    }
}
