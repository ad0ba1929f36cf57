using System.Text;

namespace Platform.Ingestion.Text;

/// <summary>The C4 rules (Raffel et al. 2020); every threshold is configurable.</summary>
public sealed class TextCleaningOptions
{
    /// <summary>Lines with fewer words are dropped (C4: 3).</summary>
    public int MinWordsPerLine { get; init; } = 3;
    /// <summary>Pages with fewer sentences after cleaning are dropped (C4: 5).</summary>
    public int MinSentences { get; init; } = 5;
    /// <summary>Words longer than this mark a line as junk (C4: 1000 characters).</summary>
    public int MaxWordLength { get; init; } = 1000;
    /// <summary>Allowed primary language subtags (default English); empty turns the filter off.</summary>
    public IReadOnlySet<string> Languages { get; init; } = new HashSet<string> { "en" };
    /// <summary>Reject documents whose language is unknown (default false).</summary>
    public bool RejectUnknownLanguage { get; init; }
    /// <summary>Remove repeated three-sentence spans across the run, keeping the first (C4).</summary>
    public bool DedupeSpans { get; init; } = true;
}

/// <summary>Remembers three-sentence spans already seen; a distributed run can share one through a key-value store.</summary>
public interface ISpanDeduplicator
{
    /// <summary>True the first time a span hash is offered.</summary>
    bool FirstSeen(ulong spanHash);
}

public sealed class InProcessSpanDeduplicator : ISpanDeduplicator
{
    private readonly HashSet<ulong> seen = [];

    public bool FirstSeen(ulong spanHash) => seen.Add(spanHash);
}

public sealed record TextDocument(string Url, string? Language, string? Title, string Text);

/// <summary>Cleans page text the way C4 did; returns the document or a rejection reason.</summary>
public sealed class C4TextCleaner(TextCleaningOptions options, ISpanDeduplicator deduplicator)
{
    private static readonly string[] PolicyPhrases =
        ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

    /// <summary>Counters of lines removed by each rule, for the funnel.</summary>
    public Dictionary<string, long> LinesDropped { get; } = new(StringComparer.Ordinal);

    public TextDocument? Clean(string url, string? language, string? title, string text, out string? rejection)
    {
        rejection = null;
        if (options.Languages.Count > 0)
        {
            if (language is null) { if (options.RejectUnknownLanguage) { rejection = "language_unknown"; return null; } }
            else if (!options.Languages.Contains(language)) { rejection = "language_not_allowed"; return null; }
        }
        var kept = new List<string>();
        foreach (var rawLine in text.Split('\n'))
        {
            var line = Html.HtmlExtractor.Collapse(rawLine);
            if (line.Length == 0) continue;
            if (!EndsWithTerminalPunctuation(line)) { Drop("no_terminal_punctuation"); continue; }
            var words = line.Split(' ');
            if (words.Length < options.MinWordsPerLine) { Drop("too_few_words"); continue; }
            if (words.Any(w => w.Length > options.MaxWordLength)) { Drop("overlong_word"); continue; }
            var lower = line.ToLowerInvariant();
            if (lower.Contains("lorem ipsum")) { rejection = "lorem_ipsum"; return null; }
            if (line.Contains('{')) { rejection = "curly_bracket"; return null; }
            if (lower.Contains("javascript")) { Drop("javascript"); continue; }
            if (PolicyPhrases.Any(lower.Contains)) { Drop("policy"); continue; }
            kept.Add(line);
        }
        var sentences = kept.Select(SplitSentences).ToList();
        if (sentences.Sum(s => s.Count) < options.MinSentences) { rejection = "too_few_sentences"; return null; }

        if (options.DedupeSpans)
        {
            var flat = sentences.SelectMany((s, line) => s.Select(sentence => (Line: line, Sentence: sentence))).ToList();
            var remove = new bool[flat.Count];
            for (var i = 0; i + 3 <= flat.Count; i++)
            {
                var hash = SpanHash(flat[i].Sentence, flat[i + 1].Sentence, flat[i + 2].Sentence);
                if (!deduplicator.FirstSeen(hash)) remove[i] = remove[i + 1] = remove[i + 2] = true;
            }
            if (remove.Any(r => r))
            {
                var rebuilt = new List<string>();
                var builder = new StringBuilder();
                for (var i = 0; i < flat.Count; i++)
                {
                    if (i > 0 && flat[i].Line != flat[i - 1].Line && builder.Length > 0) { rebuilt.Add(builder.ToString()); builder.Clear(); }
                    if (remove[i]) continue;
                    if (builder.Length > 0) builder.Append(' ');
                    builder.Append(flat[i].Sentence);
                }
                if (builder.Length > 0) rebuilt.Add(builder.ToString());
                if (remove.Count(r => !r) < options.MinSentences) { rejection = "duplicate_spans"; return null; }
                kept = rebuilt;
            }
        }
        return new TextDocument(url, language, title, string.Join('\n', kept));
    }

    private void Drop(string rule) => LinesDropped[rule] = LinesDropped.GetValueOrDefault(rule) + 1;

    private static bool EndsWithTerminalPunctuation(string line)
    {
        var last = line[^1];
        return last is '.' or '!' or '?' or '"' or '\u201d' || line.EndsWith("...", StringComparison.Ordinal);
    }

    /// <summary>Sentences end at terminal punctuation followed by white space (closing quotes stay with their sentence).</summary>
    public static List<string> SplitSentences(string line)
    {
        var result = new List<string>();
        var start = 0;
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] is not ('.' or '!' or '?')) continue;
            var end = i + 1;
            while (end < line.Length && line[end] is '"' or '\u201d' or '\'' or ')') end++;
            if (end < line.Length && line[end] != ' ') continue;
            var sentence = line[start..end].Trim();
            if (sentence.Length > 0) result.Add(sentence);
            start = end;
            i = end - 1;
        }
        var tail = line[start..].Trim();
        if (tail.Length > 0) result.Add(tail);
        return result;
    }

    private static ulong SpanHash(string a, string b, string c) =>
        Filters.InProcessPairFrequencyCounter.Hash(a + "\u0001" + b + "\u0001" + c);
}
