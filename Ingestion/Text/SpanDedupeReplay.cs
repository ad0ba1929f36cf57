using System.Buffers.Binary;

namespace Platform.Ingestion.Text;

/// <summary>
/// Answers as <paramref name="inner"/> does and logs every call (the span hash and the answer given) to
/// <paramref name="log"/> in call order, so a distributed run whose work units each dedupe only their own
/// spans can later work out the answers a single run over all inputs would have given.
/// </summary>
public sealed class RecordingSpanDeduplicator(ISpanDeduplicator inner, Stream log) : ISpanDeduplicator
{
    /// <summary>Bytes per logged call: the hash (little-endian) and the answer.</summary>
    public const int RecordSize = 9;

    private readonly byte[] record = new byte[RecordSize];

    /// <summary>Calls so far; the next call's index.</summary>
    public long Calls { get; private set; }

    public void Expect(ReadOnlySpan<ulong> spanHashes) => inner.Expect(spanHashes);

    public bool FirstSeen(ulong spanHash)
    {
        var answer = inner.FirstSeen(spanHash);
        BinaryPrimitives.WriteUInt64LittleEndian(record, spanHash);
        record[8] = answer ? (byte)1 : (byte)0;
        log.Write(record);
        Calls++;
        return answer;
    }

    /// <summary>Reads back a log written by a recorder, in call order.</summary>
    public static IEnumerable<(ulong Hash, bool FirstSeen)> Read(Stream log)
    {
        var record = new byte[RecordSize];
        while (true)
        {
            var read = log.ReadAtLeast(record, RecordSize, throwOnEndOfStream: false);
            if (read == 0) yield break;
            if (read < RecordSize) throw new InvalidDataException($"span log ends inside a record ({read} of {RecordSize} bytes)");
            yield return (BinaryPrimitives.ReadUInt64LittleEndian(record), record[8] != 0);
        }
    }
}

/// <summary>
/// Redoes the span dedupe step of <see cref="C4TextCleaner"/> on a document it produced, given the answers its
/// deduplicator gave (<paramref name="localAnswers"/>) and the answers a deduplicator that had seen more spans
/// gives for the same calls. Answers can only turn from first-seen to repeated, so every sentence removed before
/// stays removed; the document's kept sentences are recovered by splitting its text again (sentences of one line
/// are joined by a space, lines by a line break, and splitting that text finds the same sentences).
/// </summary>
public static class SpanDedupeReplay
{
    /// <summary>The document the cleaner would have produced with <paramref name="runAnswers"/>, or null with the rejection.</summary>
    public static TextDocument? Apply(TextDocument document, ReadOnlySpan<bool> localAnswers, ReadOnlySpan<bool> runAnswers, TextCleaningOptions options,
        out string? rejection)
    {
        rejection = null;
        if (localAnswers.Length != document.Spans || runAnswers.Length != document.Spans)
            throw new ArgumentException($"a document with {document.Spans} spans needs that many answers ({localAnswers.Length} local, {runAnswers.Length} run-wide)");
        if (runAnswers.SequenceEqual(localAnswers)) return document;
        var count = document.Spans + 2;
        var removedBefore = RemovedSentences(localAnswers, count);
        var removedNow = RemovedSentences(runAnswers, count);
        for (var i = 0; i < count; i++)
            if (removedBefore[i] && !removedNow[i])
                throw new ArgumentException("the run-wide answers keep a span the document's own deduplicator had seen before", nameof(runAnswers));

        var kept = KeptSentences(document.Text);
        var keptBefore = count - removedBefore.Count(r => r);
        if (kept.Count != keptBefore)
            throw new InvalidDataException($"document {document.Url} splits into {kept.Count} sentences, but its span answers leave {keptBefore}");
        var removed = removedNow.Count(r => r);
        if (count - removed < options.MinSentences)
        {
            rejection = C4TextCleaner.DuplicateSpans;
            return null;
        }
        var text = new System.Text.StringBuilder(document.Text.Length);
        var lastLine = -1;
        for (int i = 0, next = 0; i < count; i++)
        {
            if (removedBefore[i]) continue;
            var (line, sentence) = kept[next++];
            if (removedNow[i]) continue;
            if (text.Length > 0) text.Append(line != lastLine ? '\n' : ' ');
            lastLine = line;
            text.Append(sentence);
        }
        return document with { Text = text.ToString() };
    }

    /// <summary>Each span answered "seen before" removes its three sentences.</summary>
    private static bool[] RemovedSentences(ReadOnlySpan<bool> answers, int sentences)
    {
        var removed = new bool[sentences];
        for (var i = 0; i < answers.Length; i++)
            if (!answers[i]) removed[i] = removed[i + 1] = removed[i + 2] = true;
        return removed;
    }

    private static List<(int Line, string Sentence)> KeptSentences(string text)
    {
        var result = new List<(int, string)>();
        var ranges = new List<(int Start, int Length)>();
        var lines = text.Split('\n');
        for (var line = 0; line < lines.Length; line++)
        {
            ranges.Clear();
            C4TextCleaner.SentenceRanges(lines[line], ranges);
            foreach (var (start, length) in ranges) result.Add((line, lines[line].Substring(start, length)));
        }
        return result;
    }
}
