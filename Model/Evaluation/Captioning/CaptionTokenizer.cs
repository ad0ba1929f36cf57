using System.Collections.Frozen;
using System.Text;

namespace Platform.Model.Evaluation.Captioning;

/// <summary>
/// The tokenisation the COCO caption evaluation applies to hypotheses and references alike:
/// Stanford PTB tokenisation (PTB3 escaping), lower-cased token by token, then the punctuation
/// tokens of the reference list are dropped. Published BLEU/ROUGE-L/CIDEr numbers depend on it.
/// </summary>
/// <remarks>
/// Reproduced PTB behaviour: punctuation split off words, clitics split ("don't" -> "do n't",
/// "dog's" -> "dog 's", "dogs'" -> "dogs '", "cannot" -> "can not"), quotes normalised to ``/'',
/// brackets normalised to -LRB-/-RRB-/-LSB-/-RSB-/-LCB-/-RCB-, numbers with , and . kept whole,
/// hyphenated words kept whole, dotted acronyms and common abbreviations keep their period.
/// Quirk kept on purpose: lower-casing happens before the removal list is applied, and the list
/// holds the upper-case bracket names, so "(" survives as "-lrb-" exactly as in the reference.
/// The tokenizer's default British-to-American respelling (<see cref="PtbAmericanize"/>) and its
/// escaping of / and * ("and\/or") are applied to word tokens before lower-casing, as it does.
/// </remarks>
public static class CaptionTokenizer
{
    /// <summary>The tokens the reference evaluation removes after tokenisation (compared exactly).</summary>
    public static readonly FrozenSet<string> RemovedPunctuation = new[]
    {
        "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";",
    }.ToFrozenSet(StringComparer.Ordinal);

    static readonly FrozenSet<string> Abbreviations = new[]
    {
        "mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "prof", "mt", "ave", "inc", "ltd", "corp",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Clitics split off the end of a word, longest first, as PTB does.</summary>
    static readonly string[] Clitics = ["n't", "'ll", "'re", "'ve", "'s", "'m", "'d"];

    /// <summary>Words PTB splits into two tokens although they have no apostrophe.</summary>
    static readonly FrozenDictionary<string, (string, string)> SplitWords = new Dictionary<string, (string, string)>(StringComparer.OrdinalIgnoreCase)
    {
        ["cannot"] = ("can", "not"), ["gonna"] = ("gon", "na"), ["gotta"] = ("got", "ta"),
        ["wanna"] = ("wan", "na"), ["lemme"] = ("lem", "me"), ["gimme"] = ("gim", "me"),
        ["'tis"] = ("'t", "is"), ["'twas"] = ("'t", "was"),
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>Tokenises one caption and removes the reference punctuation tokens.</summary>
    public static IReadOnlyList<string> Tokenize(string caption)
    {
        ArgumentNullException.ThrowIfNull(caption);
        var tokens = new List<string>();
        foreach (var token in PtbTokens(caption))
        {
            var lowered = token.ToLowerInvariant();
            if (!RemovedPunctuation.Contains(lowered))
                tokens.Add(lowered);
        }
        return tokens;
    }

    /// <summary>The caption as the scorers see it: tokens joined by single spaces.</summary>
    public static string TokenizeToText(string caption) => string.Join(' ', Tokenize(caption));

    /// <summary>PTB tokens before lower-casing and punctuation removal.</summary>
    public static IReadOnlyList<string> PtbTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var normalised = NormaliseQuotes(text);
        var output = new List<string>();
        foreach (var chunk in normalised.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            TokenizeChunk(chunk, output);
        for (var i = 0; i < output.Count; i++)
            output[i] = EscapeSlashAndAsterisk(PtbAmericanize.Apply(output[i]));
        return output;
    }

    static string EscapeSlashAndAsterisk(string token) =>
        token.Contains('/') || token.Contains('*') ? token.Replace("/", "\\/").Replace("*", "\\*") : token;

    static string NormaliseQuotes(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var character in text)
        {
            builder.Append(character switch
            {
                '\u2018' => "`",
                '\u2019' => "'",
                '\u201C' => "``",
                '\u201D' => "''",
                '\u2026' => "...",
                '\u2013' or '\u2014' => "--",
                _ => character.ToString(),
            });
        }
        return builder.ToString();
    }

    static void TokenizeChunk(string chunk, List<string> output)
    {
        var leading = new List<string>();
        var trailing = new List<string>();
        var start = 0;
        var end = chunk.Length;

        // Leading punctuation: brackets, quotes, backquotes. A chunk starts after white space, so a
        // double quote here opens a quotation (``) and one at the end closes it ('').
        while (start < end)
        {
            var rest = chunk.AsSpan(start, end - start);
            if (rest.StartsWith("``")) { leading.Add("``"); start += 2; continue; }
            var c = chunk[start];
            if (c is '(' or '[' or '{') { leading.Add(Bracket(c)); start++; continue; }
            if (c == '"') { leading.Add("``"); start++; continue; }
            if (c == '`') { leading.Add("`"); start++; continue; }
            if (c == '\'' && end - start > 1 && !IsClitic(chunk, start, end) && !SplitWords.ContainsKey(chunk[start..end]))
            { leading.Add("`"); start++; continue; }
            if (rest.StartsWith("--")) { leading.Add("--"); start += 2; continue; }
            if (c is '-' && end - start > 1 && !char.IsDigit(chunk[start + 1])) { leading.Add("-"); start++; continue; }
            break;
        }

        // Trailing punctuation, collected right to left.
        while (end > start)
        {
            var rest = chunk.AsSpan(start, end - start);
            var c = chunk[end - 1];
            if (rest.EndsWith("...")) { trailing.Add("..."); end -= 3; continue; }
            if (rest.EndsWith("''")) { trailing.Add("''"); end -= 2; continue; }
            if (rest.EndsWith("--")) { trailing.Add("--"); end -= 2; continue; }
            if (c is ')' or ']' or '}') { trailing.Add(Bracket(c)); end--; continue; }
            if (c is ',' or ';' or ':' or '!' or '?') { trailing.Add(c.ToString()); end--; continue; }
            if (c == '"') { trailing.Add("''"); end--; continue; }
            if (c == '.' && !KeepsFinalPeriod(chunk[start..end])) { trailing.Add("."); end--; continue; }
            if (c == '\'' && end - start > 1)
            {
                // "dogs'" -> "dogs '": a lone trailing apostrophe is a possessive or closing quote.
                trailing.Add("'"); end--; continue;
            }
            if (c == '-' && end - start > 1) { trailing.Add("-"); end--; continue; }
            break;
        }

        output.AddRange(leading);
        if (end > start)
            SplitWord(chunk[start..end], output);
        for (var i = trailing.Count - 1; i >= 0; i--)
            output.Add(trailing[i]);
    }

    static bool IsClitic(string chunk, int start, int end)
    {
        foreach (var clitic in Clitics)
        {
            if (clitic[0] == '\'' && string.Compare(chunk, start, clitic, 0, clitic.Length, StringComparison.OrdinalIgnoreCase) == 0
                && (end - start == clitic.Length || !char.IsLetter(chunk[start + clitic.Length])))
                return true;
        }
        return false;
    }

    static string Bracket(char c) => c switch
    {
        '(' => "-LRB-", ')' => "-RRB-", '[' => "-LSB-", ']' => "-RSB-", '{' => "-LCB-", '}' => "-RCB-",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>Dotted acronyms ("u.s.") and listed abbreviations ("st.") keep their period, as in PTB.</summary>
    static bool KeepsFinalPeriod(string word)
    {
        if (word.Length < 2) return false;
        var body = word[..^1];
        if (Abbreviations.Contains(body)) return true;
        // Letter-period sequences such as "u.s." or "a.m.".
        if (body.Length >= 2 && body.Contains('.'))
        {
            var parts = body.Split('.');
            return parts.All(p => p.Length == 1 && char.IsLetter(p[0]));
        }
        return false;
    }

    static void SplitWord(string word, List<string> output)
    {
        if (SplitWords.TryGetValue(word, out var pair))
        {
            // Keep the original casing of each part ("Cannot" -> "Can" "not").
            output.Add(word[..pair.Item1.Length]);
            output.Add(word[pair.Item1.Length..]);
            return;
        }

        // Internal commas between letters separate words ("red,blue"); digit,digit stays a number.
        var commaAt = word.IndexOf(',');
        if (commaAt > 0 && commaAt < word.Length - 1 && !(char.IsDigit(word[commaAt - 1]) && char.IsDigit(word[commaAt + 1])))
        {
            SplitWord(word[..commaAt], output);
            output.Add(",");
            SplitWord(word[(commaAt + 1)..], output);
            return;
        }

        foreach (var clitic in Clitics)
        {
            if (word.Length > clitic.Length && word.EndsWith(clitic, StringComparison.OrdinalIgnoreCase))
            {
                output.Add(word[..^clitic.Length]);
                output.Add(word[^clitic.Length..]);
                return;
            }
        }
        output.Add(word);
    }
}
