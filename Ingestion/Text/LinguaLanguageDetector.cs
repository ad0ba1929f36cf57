using Lingua;
using Platform.Ingestion.Pipeline;

namespace Platform.Ingestion.Text;

public sealed class LinguaLanguageDetectorOptions
{
    /// <summary>
    /// Languages the identifier chooses among (ISO 639-1). Each needs its model files in the output
    /// (Ingestion/LinguaModels.targets ships <see cref="LinguaLanguageDetector.DefaultLanguages"/>); a language
    /// left out is never answered, and its text is either abstained on or given to a close relative.
    /// </summary>
    public IReadOnlyList<string> Languages { get; init; } = LinguaLanguageDetector.DefaultLanguages;

    /// <summary>
    /// Texts shorter than this many characters use Lingua's high-accuracy models (all n-gram sizes), longer ones
    /// the low-accuracy models (trigrams). From 120 characters on Lingua itself uses trigrams only, so long texts
    /// get the same answers either way, but a detector in high-accuracy mode would load every model size (12
    /// languages: 270 MB and 4 s, against 12 MB and 0.3 s) on its first short text. Short texts need them: on the
    /// distinct alt texts of three words or more in Debian's English and French aptitude manuals, low accuracy
    /// labelled 2 of 59 wrongly (confidence 0.5 and up), high accuracy none (at 0.4 and up).
    /// </summary>
    public int HighAccuracyBelowCharacters { get; init; } = 120;

    /// <summary>
    /// A short text is first scored with the low-accuracy models, which cost a fraction of the high-accuracy ones;
    /// when they are at least this confident their answer stands, otherwise the high-accuracy models decide.
    /// Above 1 every short text goes to the high-accuracy models.
    /// </summary>
    public double LowAccuracySufficesFrom { get; init; } = 0.95;

    /// <summary>
    /// The languages a confident low-accuracy answer stands for (null: all). A language filter passes the languages
    /// it allows, so a cheap answer can only keep a pair; one that would reject it is checked by the high-accuracy models.
    /// On 20 MB of synthetic English pages, trusting every language rejected 139 of 35,891 pairs, this 18, as the
    /// high-accuracy models alone do.
    /// </summary>
    public IReadOnlySet<string>? LowAccuracySufficesFor { get; init; }

    /// <summary>Only the start of a long text is read: a few hundred characters decide it, and the cost is linear.</summary>
    public int MaxCharacters { get; init; } = 2048;

    /// <summary>Fewest letters a text needs before it is judged at all.</summary>
    public int MinimumLetters { get; init; } = 4;

    /// <summary>
    /// The winning language's share of Lingua's confidence (0..1) below which the answer is null. Long texts score
    /// near 1; on short alt texts 0.4 gave no wrong label on the Debian manuals' alt texts (554 with navigation
    /// words: 1 wrong at 0.4, 2 at 0.3) and abstained on 7 of 59 descriptive ones (13 at 0.5).
    /// </summary>
    public double MinimumConfidence { get; init; } = 0.4;

    /// <summary>
    /// How many short texts' answers are remembered (0: none). Web pages repeat their alt texts ("logo", "Home", a
    /// product's name on every page of a shop), and a short text costs the high-accuracy models most, so a repeat is
    /// answered from memory; the table is emptied when full, which bounds it without bookkeeping per hit.
    /// </summary>
    public int RememberedShortTexts { get; init; } = 65_536;

    /// <summary>Where the model folders are; null is Lingua's default, Lingua/LanguageModels beside the application.</summary>
    public string? ModelsDirectory { get; init; }
}

/// <summary>
/// Identifies the language of a text with Lingua's n-gram models, restricted to a configured set of languages,
/// and answers null rather than guess when the text is too short or the winner is not confident. Models load
/// lazily on first use and are shared process-wide by Lingua; hosts take theirs from <see cref="ForAllowedLanguages"/>.
/// </summary>
public sealed class LinguaLanguageDetector : ILanguageDetector
{
    /// <summary>The languages shipped by default (see Ingestion/LinguaModels.targets); keep the two lists equal.</summary>
    public static readonly IReadOnlyList<string> DefaultLanguages = ["en", "fr", "de", "es", "it", "pt", "nl", "ru", "ja", "zh", "pl", "sv"];

    private static readonly Lazy<LinguaLanguageDetector> SharedInstance = new(() => new LinguaLanguageDetector(new LinguaLanguageDetectorOptions()));

    /// <summary>The process-wide detector over <see cref="DefaultLanguages"/>; its models load on first use.</summary>
    public static LinguaLanguageDetector Shared => SharedInstance.Value;

    /// <summary>
    /// The detector for a language filter that allows <paramref name="allowed"/>: one per allowed set, trusting cheap
    /// answers only for those languages (<see cref="LinguaLanguageDetectorOptions.LowAccuracySufficesFor"/>), or
    /// <see cref="Shared"/> when the filter is off; null (no identification, as if it were turned off) when it cannot
    /// name every allowed language, since pages in an allowed language it cannot name would be labelled with a
    /// relative and rejected.
    /// </summary>
    public static LinguaLanguageDetector? ForAllowedLanguages(IEnumerable<string> allowed)
    {
        var codes = allowed.Select(l => l.ToLowerInvariant()).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (!codes.All(DefaultLanguages.Contains)) return null;
        if (codes.Length == 0) return Shared;
        return ForFilters.GetOrAdd(string.Join(',', codes), _ => new LinguaLanguageDetector(new LinguaLanguageDetectorOptions
        {
            LowAccuracySufficesFor = codes.ToHashSet(StringComparer.Ordinal),
        }));
    }

    /// <summary>One detector per allowed set in use; Lingua shares the models among them.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, LinguaLanguageDetector> ForFilters = new(StringComparer.Ordinal);

    private readonly LinguaLanguageDetectorOptions options;
    private readonly Lazy<LanguageDetector> highAccuracy;
    private readonly Lazy<LanguageDetector> lowAccuracy;

    public LinguaLanguageDetector(LinguaLanguageDetectorOptions options)
    {
        this.options = options;
        var languages = options.Languages.Select(ToLingua).ToArray();
        if (languages.Length < 2) throw new ArgumentException("Lingua needs at least two languages to choose among.", nameof(options));
        highAccuracy = new(() => Build(languages, lowAccuracy: false));
        lowAccuracy = new(() => Build(languages, lowAccuracy: true));
    }

    private LanguageDetector Build(Language[] languages, bool lowAccuracy)
    {
        var builder = LanguageDetectorBuilder.FromLanguages(languages);
        if (lowAccuracy) builder = builder.WithLowAccuracyMode();
        if (options.ModelsDirectory is { } directory) builder = builder.WithLanguageModelsDirectory(directory);
        return builder.Build();
    }

    private static Language ToLingua(string code) =>
        Enum.TryParse<IsoCode6391>(code, ignoreCase: true, out var iso) && iso != IsoCode6391.None
            ? LanguageInfo.GetByIsoCode6391(iso)
            : throw new ArgumentException($"'{code}' is not an ISO 639-1 code Lingua knows.", nameof(code));

    public string? Detect(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var sample = text.Length > options.MaxCharacters ? text[..options.MaxCharacters] : text;
        var letters = 0;
        foreach (var c in sample)
            if (char.IsLetter(c) && ++letters >= options.MinimumLetters) break;
        if (letters < options.MinimumLetters) return null;
        if (sample.Length >= options.HighAccuracyBelowCharacters || options.RememberedShortTexts <= 0) return Identify(sample);
        if (rememberedAnswers.TryGetValue(sample, out var remembered)) return remembered;
        var answer = Identify(sample);
        if (rememberedAnswers.Count >= options.RememberedShortTexts) rememberedAnswers.Clear();
        rememberedAnswers[sample] = answer;
        return answer;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string?> rememberedAnswers = new(StringComparer.Ordinal);

    private string? Identify(string sample)
    {
        var (language, confidence) = Best(lowAccuracy.Value, sample);
        if (sample.Length < options.HighAccuracyBelowCharacters
            && (confidence < options.LowAccuracySufficesFrom || options.LowAccuracySufficesFor?.Contains(Code(language)) == false))
            (language, confidence) = Best(highAccuracy.Value, sample);
        return language != Language.Unknown && confidence >= options.MinimumConfidence ? Code(language) : null;
    }

    private static string Code(Language language) => LanguageInfo.IsoCode6391(language).ToString().ToLowerInvariant();

    private static (Language Language, double Confidence) Best(LanguageDetector detector, string text)
    {
        var confidences = detector.ComputeLanguageConfidenceValues(text);
        if (confidences.Count == 0) return (Language.Unknown, 0);
        var best = confidences.MaxBy(c => c.Value);
        return (best.Key, best.Value);
    }
}
