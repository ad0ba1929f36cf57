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

/// <summary>
/// Cleans page text the way C4 did; returns the document or a rejection reason. Works on one
/// reusable character buffer with ranges, since this runs on every page of a dump.
/// </summary>
public sealed class C4TextCleaner(TextCleaningOptions options, ISpanDeduplicator deduplicator)
{
    private static readonly string[] PolicyPhrases =
        ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

    private char[] buffer = new char[1 << 16];
    private readonly List<(int Start, int Length)> lines = [];
    private readonly List<(int Line, int Start, int Length, ulong Hash)> sentences = [];

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
        if (buffer.Length < text.Length) buffer = new char[Math.Max(text.Length, buffer.Length * 2)];
        lines.Clear();
        sentences.Clear();
        var used = 0;
        var source = text.AsSpan();
        while (source.Length > 0)
        {
            var nl = source.IndexOf('\n');
            var raw = nl < 0 ? source : source[..nl];
            source = nl < 0 ? default : source[(nl + 1)..];
            var (length, words, longestWord) = Collapse(raw, buffer.AsSpan(used));
            if (length == 0) continue;
            var line = buffer.AsSpan(used, length);
            if (!EndsWithTerminalPunctuation(line)) { Drop("no_terminal_punctuation"); continue; }
            if (words < options.MinWordsPerLine) { Drop("too_few_words"); continue; }
            if (longestWord > options.MaxWordLength) { Drop("overlong_word"); continue; }
            if (line.Contains("lorem ipsum", StringComparison.OrdinalIgnoreCase)) { rejection = "lorem_ipsum"; return null; }
            if (line.Contains('{')) { rejection = "curly_bracket"; return null; }
            if (line.Contains("javascript", StringComparison.OrdinalIgnoreCase)) { Drop("javascript"); continue; }
            if (ContainsPolicy(line)) { Drop("policy"); continue; }
            lines.Add((used, length));
            used += length;
        }
        for (var i = 0; i < lines.Count; i++)
            AddSentences(i, lines[i].Start, buffer.AsSpan(lines[i].Start, lines[i].Length));
        if (sentences.Count < options.MinSentences) { rejection = "too_few_sentences"; return null; }

        Span<bool> remove = sentences.Count <= 1024 ? stackalloc bool[sentences.Count] : new bool[sentences.Count];
        var removed = 0;
        if (options.DedupeSpans)
        {
            for (var i = 0; i + 3 <= sentences.Count; i++)
            {
                var hash = Mix(Mix(sentences[i].Hash, sentences[i + 1].Hash), sentences[i + 2].Hash);
                if (deduplicator.FirstSeen(hash)) continue;
                for (var k = i; k < i + 3; k++) if (!remove[k]) { remove[k] = true; removed++; }
            }
            if (removed > 0 && sentences.Count - removed < options.MinSentences) { rejection = "duplicate_spans"; return null; }
        }
        var output = new StringBuilder(used + lines.Count);
        if (removed == 0)
        {
            foreach (var (start, length) in lines)
            {
                if (output.Length > 0) output.Append('\n');
                output.Append(buffer, start, length);
            }
        }
        else
        {
            var lastLine = -1;
            var lineHasText = false;
            for (var i = 0; i < sentences.Count; i++)
            {
                if (remove[i]) continue;
                var (lineIndex, start, length, _) = sentences[i];
                if (lineIndex != lastLine)
                {
                    if (output.Length > 0) output.Append('\n');
                    lastLine = lineIndex;
                    lineHasText = false;
                }
                if (lineHasText) output.Append(' ');
                output.Append(buffer, start, length);
                lineHasText = true;
            }
        }
        return new TextDocument(url, language, title, output.ToString());
    }

    private void Drop(string rule) => LinesDropped[rule] = LinesDropped.GetValueOrDefault(rule) + 1;

    private static bool ContainsPolicy(ReadOnlySpan<char> line)
    {
        // Every phrase contains "use" or "polic"; most lines have neither, so test those first.
        if (!line.Contains("use", StringComparison.OrdinalIgnoreCase) && !line.Contains("polic", StringComparison.OrdinalIgnoreCase)) return false;
        foreach (var phrase in PolicyPhrases)
            if (line.Contains(phrase, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>Copies the line with white-space runs collapsed to one space; counts words and the longest one.</summary>
    private static (int Length, int Words, int LongestWord) Collapse(ReadOnlySpan<char> raw, Span<char> destination)
    {
        int length = 0, words = 0, longest = 0, current = 0;
        var pendingSpace = false;
        foreach (var c in raw)
        {
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = length > 0;
                if (current > longest) longest = current;
                current = 0;
                continue;
            }
            if (pendingSpace) destination[length++] = ' ';
            if (current == 0) words++;
            pendingSpace = false;
            destination[length++] = c;
            current++;
        }
        return (length, words, Math.Max(longest, current));
    }

    private static bool EndsWithTerminalPunctuation(ReadOnlySpan<char> line)
    {
        var last = line[^1];
        return last is '.' or '!' or '?' or '"' or '\u201d';
    }

    private void AddSentences(int lineIndex, int offset, ReadOnlySpan<char> line)
    {
        foreach (var (start, length) in SentenceRanges(line))
            sentences.Add((lineIndex, offset + start, length, Hash(line.Slice(start, length))));
    }

    /// <summary>Sentences end at terminal punctuation followed by white space (closing quotes stay with their sentence).</summary>
    public static List<string> SplitSentences(string line) =>
        SentenceRanges(line).Select(r => line.Substring(r.Start, r.Length)).ToList();

    private static List<(int Start, int Length)> SentenceRanges(ReadOnlySpan<char> line)
    {
        var result = new List<(int, int)>();
        var start = 0;
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] is not ('.' or '!' or '?')) continue;
            var end = i + 1;
            while (end < line.Length && line[end] is '"' or '\u201d' or '\'' or ')') end++;
            if (end < line.Length && line[end] != ' ') continue;
            AddTrimmed(result, line, start, end);
            start = end;
            i = end - 1;
        }
        AddTrimmed(result, line, start, line.Length);
        return result;
    }

    private static void AddTrimmed(List<(int, int)> result, ReadOnlySpan<char> line, int from, int to)
    {
        while (from < to && line[from] == ' ') from++;
        while (to > from && line[to - 1] == ' ') to--;
        if (to > from) result.Add((from, to - from));
    }

    private static ulong Hash(ReadOnlySpan<char> s)
    {
        var h = 14695981039346656037UL;
        foreach (var c in s) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    private static ulong Mix(ulong a, ulong b) => (a ^ (b + 0x9E3779B97F4A7C15UL + (a << 6) + (a >> 2))) * 0xBF58476D1CE4E5B9UL;
}
