using System.Collections.Frozen;
using Platform.Ingestion.Pipeline;

namespace Platform.Ingestion.Text;

/// <summary>
/// Identifies the language of pages that declare none from the density of each language's most
/// frequent function words (the classic stop-word profile method). It needs no model files, costs one
/// pass over at most <see cref="MaxCharacters"/> characters, and answers null rather than guess when the
/// text is short, mixed or in a language it has no profile for. Profiles: en, de, fr, es, it, nl, pt, sv.
/// </summary>
public sealed class StopwordLanguageDetector : ILanguageDetector
{
    /// <summary>Only the start of a page is read: a few hundred words decide it.</summary>
    public const int MaxCharacters = 4096;

    /// <summary>Fewest profile words the winning language must have.</summary>
    public int MinimumMatches { get; init; } = 4;

    /// <summary>Share of all words that must be the winner's function words (real prose is well above 0.2).</summary>
    public double MinimumDensity { get; init; } = 0.12;

    /// <summary>How far the winner must lead the runner-up.</summary>
    public double MinimumLead { get; init; } = 1.5;

    private static readonly (string Language, string Words)[] Profiles =
    [
        ("en", "the and of to in is that it for was with as on are this be by at from have not or which but they you we his her an were been has their will would there what can"),
        ("de", "der die das und ist nicht mit ein eine den dem zu von sich auf für auch es im wird sind wie oder aber bei nach noch aus wir ich sie werden einer durch über war"),
        ("fr", "le la les et est des une un du dans que qui pour pas sur au avec par plus ce il elle sont ne se nous vous mais ou aux cette été leur comme"),
        ("es", "el la los las y es de que en un una por con para del se no al lo como más pero sus le ya o este está son fue ha muy también"),
        ("it", "il la le di e che è per un una non con del della si sono da nel alla anche come più ma gli dei questo lo ha era delle"),
        ("nl", "de het een en van is dat op te in niet zijn voor met die er aan ook als bij door maar om wordt nog naar uit deze worden hij wij"),
        ("pt", "o a os as e é de que em um uma do da dos das não para com por se mais como mas ao foi são também ele ela isso está muito"),
        ("sv", "och att det som en är på för av med den till inte har de om ett var jag men så vi kan från eller"),
    ];

    private static readonly string[] Languages = Profiles.Select(p => p.Language).ToArray();

    /// <summary>Each word maps to the profiles that list it (a bit per language).</summary>
    private static readonly FrozenDictionary<string, int> LanguagesOfWord = BuildIndex();

    private static FrozenDictionary<string, int> BuildIndex()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Profiles.Length; i++)
            foreach (var word in Profiles[i].Words.Split(' '))
                index[word] = index.GetValueOrDefault(word) | (1 << i);
        return index.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public string? Detect(string text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var span = text.AsSpan(0, Math.Min(text.Length, MaxCharacters));
        var hits = new int[Profiles.Length];
        var words = 0;
        var lookup = LanguagesOfWord.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> lower = stackalloc char[32];
        var i = 0;
        while (i < span.Length)
        {
            while (i < span.Length && !char.IsLetter(span[i])) i++;
            var start = i;
            while (i < span.Length && char.IsLetter(span[i])) i++;
            var length = i - start;
            if (length == 0) continue;
            words++;
            if (length > lower.Length) continue;
            var word = lower[..span.Slice(start, length).ToLowerInvariant(lower)];
            if (!lookup.TryGetValue(word, out var languages)) continue;
            for (var l = 0; l < hits.Length; l++)
                if ((languages & (1 << l)) != 0) hits[l]++;
        }

        int best = -1, bestHits = 0, secondHits = 0;
        for (var l = 0; l < hits.Length; l++)
        {
            if (hits[l] > bestHits)
            {
                secondHits = bestHits;
                bestHits = hits[l];
                best = l;
            }
            else if (hits[l] > secondHits) secondHits = hits[l];
        }
        if (best < 0 || bestHits < MinimumMatches) return null;
        if ((double)bestHits / words < MinimumDensity) return null;
        if (bestHits < MinimumLead * secondHits) return null;
        return Languages[best];
    }
}
