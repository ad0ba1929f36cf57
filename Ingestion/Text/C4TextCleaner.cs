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

    /// <summary>
    /// A hint that these hashes are about to be offered to <see cref="FirstSeen"/>, in this order (a page's spans).
    /// It changes no answer; a table in memory can start fetching their slots together rather than one miss at a time.
    /// </summary>
    void Expect(ReadOnlySpan<ulong> spanHashes) { }
}

/// <summary>
/// An open-addressing set of span hashes in one flat array. A run offers every three-sentence span of
/// every page (millions) and nearly all are new, so the cost that matters is the memory touched per
/// insert: one slot here against a bucket and a chain of entries in a <see cref="HashSet{T}"/>.
/// </summary>
public sealed class InProcessSpanDeduplicator : ISpanDeduplicator
{
    private const int InitialBits = 12;
    private ulong[] slots = new ulong[1 << InitialBits];
    private int bits = InitialBits;
    private int count;
    /// <summary>Zero marks an empty slot, so the hash zero is remembered apart.</summary>
    private bool sawZero;

    /// <summary>Where the loads of <see cref="Expect"/> go, so the JIT cannot drop them as unused.</summary>
    private ulong expected;

    /// <summary>
    /// The table is far larger than the caches, so each new hash costs a cache miss. Loading every home slot
    /// of a page's spans in one loop of independent loads lets the processor have many misses in flight at once;
    /// the inserts that follow then find their slots in cache.
    /// </summary>
    public void Expect(ReadOnlySpan<ulong> spanHashes)
    {
        var table = slots;
        var shift = 64 - bits;
        ulong any = 0;
        foreach (var hash in spanHashes) any |= table[(int)((hash * 0x9E3779B97F4A7C15UL) >> shift)];
        expected = any;
    }

    public bool FirstSeen(ulong spanHash)
    {
        if (spanHash == 0)
        {
            if (sawZero) return false;
            sawZero = true;
            return true;
        }
        if (!Insert(slots, bits, spanHash)) return false;
        // Kept at most three quarters full. Each doubling allocates fresh memory (page faults, and a large
        // object that brings full collections closer), which cost more than the longer probes: at this load a
        // probe for a new hash still ends within the home slot's cache line or the next one, mostly.
        if (++count * 4 > slots.Length * 3) Grow();
        return true;
    }

    /// <summary>
    /// The home slot is the top <paramref name="tableBits"/> bits of a Fibonacci product (which spreads any
    /// regularity in the hash). Taking the top bits keeps slot order when the table doubles (home i becomes
    /// 2i or 2i + 1), so growing writes the larger table front to back instead of at random.
    /// </summary>
    private static bool Insert(ulong[] table, int tableBits, ulong hash)
    {
        var mask = table.Length - 1;
        var i = (int)((hash * 0x9E3779B97F4A7C15UL) >> (64 - tableBits));
        while (true)
        {
            var slot = table[i];
            if (slot == 0)
            {
                table[i] = hash;
                return true;
            }
            if (slot == hash) return false;
            i = (i + 1) & mask;
        }
    }

    private void Grow()
    {
        var larger = new ulong[slots.Length * 2];
        foreach (var hash in slots)
            if (hash != 0) Insert(larger, bits + 1, hash);
        slots = larger;
        bits++;
    }
}

public sealed record TextDocument(string Url, string? Language, string? Title, string Text)
{
    /// <summary>
    /// How many three-sentence spans of the page were offered to the span deduplicator for this document
    /// (the cleaner's last calls before it returned the document), so a distributed run can redo the span
    /// dedupe with run-wide answers (<see cref="SpanDedupeReplay"/>).
    /// </summary>
    public int Spans { get; init; }
}

/// <summary>
/// Cleans page text the way C4 did; returns the document or a rejection reason. Works on one
/// reusable character buffer with ranges, since this runs on every page of a dump.
/// </summary>
public sealed class C4TextCleaner(TextCleaningOptions options, ISpanDeduplicator deduplicator)
{
    /// <summary>
    /// C4's phrases: a page killer (lorem ipsum) and line killers (javascript, policy phrases). The curly
    /// bracket, the other page killer, is searched on its own: a one-character value would make this
    /// search fall back from the vectorised multi-string algorithm to a character-at-a-time automaton.
    /// </summary>
    private static readonly System.Buffers.SearchValues<string> FlaggedPhrases = System.Buffers.SearchValues.Create(
        ["lorem ipsum", "javascript", "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"],
        StringComparison.OrdinalIgnoreCase);

    /// <summary>The rejection of a page left with too few sentences once its repeated spans are removed.</summary>
    public const string DuplicateSpans = "duplicate_spans";

    private char[] buffer = new char[1 << 16];
    private readonly List<(int Start, int Length)> lines = [];
    /// <summary>Per sentence of the current page: removed as part of a repeated span.</summary>
    private bool[] remove = new bool[256];
    /// <summary>The current page's three-sentence span hashes, in the order they are offered.</summary>
    private ulong[] spanHashes = new ulong[256];
    private readonly List<(int Line, int Start, int Length, ulong Hash)> sentences = [];
    private readonly List<(int Start, int Length)> lineSentences = [];

    private static readonly string[] DropRules = ["no_terminal_punctuation", "too_few_words", "overlong_word", "javascript", "policy"];
    private const int NoTerminalPunctuation = 0, TooFewWords = 1, OverlongWord = 2, Javascript = 3, Policy = 4;
    private readonly long[] dropped = new long[DropRules.Length];

    /// <summary>Lines removed by each rule since the last call, for the funnel; resets the counts.</summary>
    public Dictionary<string, long> TakeLinesDropped()
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < dropped.Length; i++)
            if (dropped[i] > 0) result[DropRules[i]] = dropped[i];
        Array.Clear(dropped);
        return result;
    }

    public TextDocument? Clean(string url, string? language, string? title, ReadOnlySpan<char> text, out string? rejection)
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
        var source = text;
        while (source.Length > 0)
        {
            var nl = source.IndexOf('\n');
            var raw = nl < 0 ? source : source[..nl];
            source = nl < 0 ? default : source[(nl + 1)..];
            var trimmed = raw.TrimEnd();
            if (trimmed.IsEmpty || trimmed.TrimStart().IsEmpty) continue;
            // Most lines of a page (menus, buttons, headings) fail here; decide before copying them.
            if (!EndsWithTerminalPunctuation(trimmed)) { dropped[NoTerminalPunctuation]++; continue; }
            var (length, words, longestWord) = Collapse(trimmed, buffer.AsSpan(used));
            var line = buffer.AsSpan(used, length);
            if (words < options.MinWordsPerLine) { dropped[TooFewWords]++; continue; }
            if (longestWord > options.MaxWordLength) { dropped[OverlongWord]++; continue; }
            // One multi-string search finds any phrase of interest; which one only matters when there is one.
            if (line.Contains('{') || line.IndexOfAny(FlaggedPhrases) >= 0)
            {
                if (line.Contains("lorem ipsum", StringComparison.OrdinalIgnoreCase)) { rejection = "lorem_ipsum"; return null; }
                if (line.Contains('{')) { rejection = "curly_bracket"; return null; }
                if (line.Contains("javascript", StringComparison.OrdinalIgnoreCase)) { dropped[Javascript]++; continue; }
                dropped[Policy]++;
                continue;
            }
            lines.Add((used, length));
            used += length;
        }
        for (var i = 0; i < lines.Count; i++)
            AddSentences(i, lines[i].Start, buffer.AsSpan(lines[i].Start, lines[i].Length));
        if (sentences.Count < options.MinSentences) { rejection = "too_few_sentences"; return null; }

        if (remove.Length < sentences.Count) remove = new bool[Math.Max(sentences.Count, remove.Length * 2)];
        Array.Clear(remove, 0, sentences.Count);
        var removed = 0;
        if (options.DedupeSpans && sentences.Count >= 3)
        {
            var spans = sentences.Count - 2;
            if (spanHashes.Length < spans) spanHashes = new ulong[Math.Max(spans, spanHashes.Length * 2)];
            for (var i = 0; i < spans; i++)
                spanHashes[i] = Mix(Mix(sentences[i].Hash, sentences[i + 1].Hash), sentences[i + 2].Hash);
            deduplicator.Expect(spanHashes.AsSpan(0, spans));
            for (var i = 0; i < spans; i++)
            {
                if (deduplicator.FirstSeen(spanHashes[i])) continue;
                for (var k = i; k < i + 3; k++) if (!remove[k]) { remove[k] = true; removed++; }
            }
            if (removed > 0 && sentences.Count - removed < options.MinSentences) { rejection = DuplicateSpans; return null; }
        }
        // The document is written straight into its string: pieces plus one separator between each two.
        var characters = -1;
        if (removed == 0)
            foreach (var (_, length) in lines) characters += length + 1;
        else
            for (var i = 0; i < sentences.Count; i++)
                if (!remove[i]) characters += sentences[i].Length + 1;
        // Zero pieces (possible only with MinSentences = 0) make an empty document.
        var document = string.Create(Math.Max(characters, 0), (Cleaner: this, Removed: removed > 0), static (destination, state) =>
        {
            if (state.Removed) state.Cleaner.WriteKeptSentences(destination);
            else state.Cleaner.WriteLines(destination);
        });
        return new TextDocument(url, language, title, document) { Spans = options.DedupeSpans ? Math.Max(0, sentences.Count - 2) : 0 };
    }

    /// <summary>Every kept line, joined by line breaks.</summary>
    private void WriteLines(Span<char> destination)
    {
        var at = 0;
        foreach (var (start, length) in lines)
        {
            if (at > 0) destination[at++] = '\n';
            buffer.AsSpan(start, length).CopyTo(destination[at..]);
            at += length;
        }
    }

    /// <summary>The sentences not removed as duplicates: a space between sentences of a line, a line break between lines.</summary>
    private void WriteKeptSentences(Span<char> destination)
    {
        var at = 0;
        var lastLine = -1;
        for (var i = 0; i < sentences.Count; i++)
        {
            if (remove[i]) continue;
            var (lineIndex, start, length, _) = sentences[i];
            if (at > 0) destination[at++] = lineIndex != lastLine ? '\n' : ' ';
            lastLine = lineIndex;
            buffer.AsSpan(start, length).CopyTo(destination[at..]);
            at += length;
        }
    }

    /// <summary>Copies the line with white-space runs collapsed to one space; counts words and the longest one.</summary>
    private (int Length, int Words, int LongestWord) Collapse(ReadOnlySpan<char> raw, Span<char> destination)
    {
        // Most lines need no collapsing and are copied as they are.
        if (raw.Length > 0 && WhiteSpace.IsCollapsed(raw))
        {
            raw.CopyTo(destination);
            // Only a line longer than the word limit can hold an overlong word.
            var longest = raw.Length > options.MaxWordLength ? LongestWord(raw) : 0;
            return (raw.Length, raw.Count(' ') + 1, longest);
        }
        int length = 0, words = 0, longestWord = 0, current = 0;
        var pendingSpace = false;
        foreach (var c in raw)
        {
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = length > 0;
                if (current > longestWord) longestWord = current;
                current = 0;
                continue;
            }
            if (pendingSpace) destination[length++] = ' ';
            if (current == 0) words++;
            pendingSpace = false;
            destination[length++] = c;
            current++;
        }
        return (length, words, Math.Max(longestWord, current));
    }

    private static int LongestWord(ReadOnlySpan<char> line)
    {
        var longest = 0;
        while (line.Length > 0)
        {
            var space = line.IndexOf(' ');
            var word = space < 0 ? line.Length : space;
            if (word > longest) longest = word;
            line = space < 0 ? default : line[(space + 1)..];
        }
        return longest;
    }

    private static bool EndsWithTerminalPunctuation(ReadOnlySpan<char> line)
    {
        var last = line[^1];
        return last is '.' or '!' or '?' or '"' or '\u201d';
    }

    private void AddSentences(int lineIndex, int offset, ReadOnlySpan<char> line)
    {
        lineSentences.Clear();
        SentenceRanges(line, lineSentences);
        foreach (var (start, length) in lineSentences)
            sentences.Add((lineIndex, offset + start, length, Hash(line.Slice(start, length))));
    }

    /// <summary>Sentences end at terminal punctuation followed by white space (closing quotes stay with their sentence).</summary>
    public static List<string> SplitSentences(string line)
    {
        var ranges = new List<(int Start, int Length)>();
        SentenceRanges(line, ranges);
        return ranges.Select(r => line.Substring(r.Start, r.Length)).ToList();
    }

    /// <summary>Appends the line's sentence ranges to <paramref name="result"/> (a list reused across lines).</summary>
    internal static void SentenceRanges(ReadOnlySpan<char> line, List<(int Start, int Length)> result)
    {
        var start = 0;
        var i = 0;
        while (i < line.Length)
        {
            var at = line[i..].IndexOfAny('.', '!', '?');
            if (at < 0) break;
            i += at;
            var end = i + 1;
            while (end < line.Length && line[end] is '"' or '\u201d' or '\'' or ')') end++;
            if (end < line.Length && line[end] != ' ')
            {
                i++;
                continue;
            }
            AddTrimmed(result, line, start, end);
            start = end;
            i = end;
        }
        AddTrimmed(result, line, start, line.Length);
    }

    private static void AddTrimmed(List<(int Start, int Length)> result, ReadOnlySpan<char> line, int from, int to)
    {
        while (from < to && line[from] == ' ') from++;
        while (to > from && line[to - 1] == ' ') to--;
        if (to > from) result.Add((from, to - from));
    }

    /// <summary>A stable 64-bit hash that takes four characters per step (a shared deduplicator needs the same value everywhere).</summary>
    private static ulong Hash(ReadOnlySpan<char> s)
    {
        var h = 0x9E3779B97F4A7C15UL ^ (ulong)s.Length;
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<char, ulong>(s);
        foreach (var w in words) h = Mix(h, w);
        foreach (var c in s[(words.Length * 4)..]) h = Mix(h, c);
        return h;
    }

    private static ulong Mix(ulong a, ulong b)
    {
        var x = (a ^ b) * 0xBF58476D1CE4E5B9UL;
        return x ^ (x >> 31);
    }
}
