using System.Text.RegularExpressions;
using Platform.Ingestion.Html;

namespace Platform.Ingestion.Filters;

/// <summary>Per-candidate filters. Defaults follow ALIGN (3-20 words) and LAION (at least 5 characters).</summary>
public sealed class AltTextFilterOptions
{
    /// <summary>Fewest words an alt text may have (ALIGN: 3).</summary>
    public int MinWords { get; init; } = 3;
    /// <summary>Most words an alt text may have (ALIGN: 20).</summary>
    public int MaxWords { get; init; } = 20;
    /// <summary>Fewest characters (LAION-5B: 5).</summary>
    public int MinChars { get; init; } = 5;
    /// <summary>Most characters; long alt texts are usually keyword stuffing (default 512).</summary>
    public int MaxChars { get; init; } = 512;
    /// <summary>Reject alt texts made only of navigation and placeholder words ("logo", "next", "image", ...).</summary>
    public bool RejectBoilerplate { get; init; } = true;
    /// <summary>Words that carry no description on their own; an alt text made only of these is boilerplate.</summary>
    public IReadOnlySet<string> BoilerplateWords { get; init; } = DefaultBoilerplateWords;
    /// <summary>Allowed primary language subtags (default English); empty turns the language filter off.</summary>
    public IReadOnlySet<string> Languages { get; init; } = new HashSet<string> { "en" };

    /// <summary>A command-line language list: comma-separated codes (`en,de`), or `off` for no language filter (the empty set).</summary>
    public static IReadOnlySet<string> ParseLanguages(string list) =>
        list.Trim().Equals("off", StringComparison.OrdinalIgnoreCase)
            ? new HashSet<string>()
            : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => l.ToLowerInvariant()).ToHashSet();
    /// <summary>Reject candidates whose page language is unknown and could not be detected (default false: keep them).</summary>
    public bool RejectUnknownLanguage { get; init; }
    /// <summary>Honour noai/noimageai/noindex/noimageindex from robots meta tags and X-Robots-Tag (img2dataset's default).</summary>
    public bool HonourOptOut { get; init; } = true;

    public static readonly IReadOnlySet<string> DefaultBoilerplateWords = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "image", "images", "img", "photo", "photos", "picture", "pic", "logo", "icon", "icons", "banner", "thumbnail", "thumb",
        "avatar", "button", "btn", "spacer", "pixel", "placeholder", "loading", "blank", "untitled", "default", "no", "none",
        "next", "previous", "prev", "back", "home", "menu", "search", "close", "open", "more", "read", "click", "here", "view",
        "share", "facebook", "twitter", "instagram", "pinterest", "linkedin", "youtube", "email", "print", "rss", "arrow",
        "left", "right", "up", "down", "top", "bottom", "of", "the", "a", "an", "and", "or", "to", "for", "on", "in", "this", "that",
    };
}

/// <summary>What a candidate is checked against: its alt text and the page and image it came from.</summary>
public readonly record struct CandidateFacts(string? AltText, string? Language, RobotsDirectives PageRobots, RobotsDirectives ImageRobots);

/// <param name="altTextLanguage">
/// When given (and the language filter is on), each alt text's own language is identified too, and a pair whose
/// alt text is confidently in a language that is not allowed is rejected even on an allowed page; an alt text the
/// detector abstains on is kept.
/// </param>
public sealed partial class AltTextFilter(AltTextFilterOptions options, Pipeline.ILanguageDetector? altTextLanguage = null)
{
    public const RobotsDirectives OptOut = RobotsDirectives.NoAi | RobotsDirectives.NoImageAi | RobotsDirectives.NoIndex | RobotsDirectives.NoImageIndex;

    [GeneratedRegex(@"^[\w\-.() ]+\.(jpe?g|png|gif|webp|bmp|svg|tiff?|avif|heic)$|^(img|dsc|dscn|dcim|image|photo|screenshot)[_\- ]?\d+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FileNamePattern();

    private static readonly System.Buffers.SearchValues<char> DotOrDigit = System.Buffers.SearchValues.Create(".0123456789");

    /// <summary>The reason to reject, or null to keep.</summary>
    public string? Check(in CandidateFacts facts)
    {
        if (options.HonourOptOut)
        {
            if ((facts.PageRobots & OptOut) != 0) return "page_opt_out";
            if ((facts.ImageRobots & OptOut) != 0) return "image_opt_out";
        }
        var alt = facts.AltText;
        if (alt is null) return "no_alt";
        if (alt.Length == 0) return "empty_alt";
        if (alt.Length < options.MinChars) return "alt_too_short";
        if (alt.Length > options.MaxChars) return "alt_too_long";
        var words = CountWords(alt);
        if (words < options.MinWords) return "alt_too_few_words";
        if (words > options.MaxWords) return "alt_too_many_words";
        if (options.RejectBoilerplate)
        {
            // Both file-name shapes need a dot or a digit; most alt texts have neither.
            if (alt.AsSpan().IndexOfAny(DotOrDigit) >= 0 && FileNamePattern().IsMatch(alt)) return "alt_file_name";
            if (IsAllBoilerplate(alt)) return "alt_boilerplate";
        }
        if (options.Languages.Count > 0)
        {
            if (facts.Language is null) { if (options.RejectUnknownLanguage) return "language_unknown"; }
            else if (!options.Languages.Contains(facts.Language)) return "language_not_allowed";
            // Last, because it is the one check that costs more than a pass over the alt text.
            if (altTextLanguage?.Detect(alt) is { } altLanguage && !options.Languages.Contains(altLanguage)) return "alt_language_not_allowed";
        }
        return null;
    }

    public static int CountWords(ReadOnlySpan<char> text)
    {
        var count = 0;
        var inWord = false;
        foreach (var c in text)
        {
            var wordChar = !char.IsWhiteSpace(c);
            if (wordChar && !inWord) count++;
            inWord = wordChar;
        }
        return count;
    }

    private bool IsAllBoilerplate(string alt)
    {
        var rest = alt.AsSpan();
        while (rest.Length > 0)
        {
            var space = rest.IndexOf(' ');
            var raw = space < 0 ? rest : rest[..space];
            rest = space < 0 ? default : rest[(space + 1)..];
            var word = raw.Trim(".,:;!?\"'()-|»«<>");
            if (word.IsEmpty || !word.ContainsAnyExcept("0123456789")) continue;
            // The first descriptive word settles it, so at most one string is made per alt text in practice.
            if (!options.BoilerplateWords.Contains(word.ToString())) return false;
        }
        return true;
    }
}
