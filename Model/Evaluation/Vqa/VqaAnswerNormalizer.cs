using System.Collections.Frozen;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Platform.Model.Evaluation.Vqa;

/// <summary>
/// The official VQA evaluation's answer processing, quirks included: the punctuation rule looks at
/// the original text, periods are stripped at most 32 times (the reference passes its regex flags
/// where the count belongs), number words become digits before articles are dropped, and the
/// contractions table is applied word by word.
/// </summary>
public static partial class VqaAnswerNormalizer
{
    static readonly char[] Punctuation = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];

    /// <summary>re.UNICODE (32) passed as re.sub's count in the reference code.</summary>
    public const int MaxPeriodsStripped = 32;

    static readonly FrozenDictionary<string, string> NumberWords = new Dictionary<string, string>
    {
        ["none"] = "0", ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4",
        ["five"] = "5", ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    static readonly FrozenSet<string> Articles = new[] { "a", "an", "the" }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The official contractions table (embedded copy of the reference vqa_contractions.json).</summary>
    public static FrozenDictionary<string, string> Contractions { get; } = LoadContractions();

    [GeneratedRegex(@"(\d)(,)(\d)")]
    private static partial Regex DigitCommaDigit();

    // The reference pattern is "(?!<=\d)(\.)(?!\d)": the first group is a lookahead, not a lookbehind,
    // and never fails in front of a period, so the effective rule is "a period not followed by a digit".
    [GeneratedRegex(@"\.(?!\d)")]
    private static partial Regex PeriodNotBeforeDigit();

    /// <summary>Newlines and tabs become spaces, then both ends are stripped (applied to every answer).</summary>
    public static string Clean(string answer) => answer.Replace('\n', ' ').Replace('\t', ' ').Trim();

    /// <summary>Punctuation, then digits/articles/contractions: the full normalisation.</summary>
    public static string Normalize(string answer) => ProcessDigitArticle(ProcessPunctuation(answer));

    public static string ProcessPunctuation(string text)
    {
        var output = text;
        var hasDigitCommaDigit = DigitCommaDigit().IsMatch(text);
        foreach (var p in Punctuation)
        {
            var nextToSpace = text.Contains($"{p} ", StringComparison.Ordinal) || text.Contains($" {p}", StringComparison.Ordinal);
            output = output.Replace(p.ToString(), nextToSpace || hasDigitCommaDigit ? "" : " ", StringComparison.Ordinal);
        }
        return PeriodNotBeforeDigit().Replace(output, "", MaxPeriodsStripped);
    }

    public static string ProcessDigitArticle(string text)
    {
        var words = new List<string>();
        foreach (var raw in text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var word = NumberWords.GetValueOrDefault(raw, raw);
            if (!Articles.Contains(word))
                words.Add(word);
        }
        for (var i = 0; i < words.Count; i++)
            if (Contractions.TryGetValue(words[i], out var contracted))
                words[i] = contracted;
        return string.Join(' ', words);
    }

    static FrozenDictionary<string, string> LoadContractions()
    {
        const string name = "Platform.Model.Evaluation.Vqa.vqa_contractions.json";
        using var stream = typeof(VqaAnswerNormalizer).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing from the assembly.");
        var table = JsonSerializer.Deserialize<Dictionary<string, string>>(stream)
            ?? throw new InvalidOperationException($"Embedded resource {name} is not a JSON object of strings.");
        return table.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
