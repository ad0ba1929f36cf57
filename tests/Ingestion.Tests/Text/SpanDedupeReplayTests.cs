using CsCheck;
using Platform.Ingestion.Text;

namespace Platform.Ingestion.Tests.Text;

/// <summary>
/// Pages cleaned in separate groups (a distributed run's work units), each with a deduplicator of its own, then
/// replayed with run-wide answers must come out as one cleaner over all pages in order makes them.
/// </summary>
public class SpanDedupeReplayTests
{
    /// <summary>A small pool, so spans repeat within and across groups; closing quotes and brackets stay with their sentence.</summary>
    private static readonly string[] Sentences =
    [
        "The old bridge crosses the river.", "People walk along the quiet street.", "A golden light falls on the harbour!",
        "Who painted the station walls?", "She said \"the market opens early.\"", "(The museum keeps the stone.)",
        "Evening comes to the busy village.", "The festival followed the season.", "Water runs under the green garden.",
        "History is carried toward the mountain.", "They visit the harbour every morning.", "Nobody saw the painted boat leave.",
    ];

    private static readonly Gen<string> Line = Gen.Int[0, Sentences.Length - 1].Array[1, 3].Select(picks => string.Join(" ", picks.Select(i => Sentences[i])));
    private static readonly Gen<string> Page = Line.Array[1, 6].Select(lines => string.Join("\n", lines));

    private static List<string> CleanInOneRun(IEnumerable<string> pages, TextCleaningOptions options)
    {
        var cleaner = new C4TextCleaner(options, new InProcessSpanDeduplicator());
        return [.. pages.Select((page, i) => cleaner.Clean($"http://p/{i}", "en", null, page, out var rejection)?.Text ?? "rejected: " + rejection)];
    }

    private static List<string> CleanInGroupsAndReplay(IReadOnlyList<string[]> groups, TextCleaningOptions options)
    {
        var outcomes = new List<(TextDocument? Document, string? Rejection, long FirstCall)>();
        var logs = new List<MemoryStream>();
        var page = 0;
        foreach (var group in groups)
        {
            var log = new MemoryStream();
            logs.Add(log);
            var recorder = new RecordingSpanDeduplicator(new InProcessSpanDeduplicator(), log);
            var cleaner = new C4TextCleaner(options, recorder);
            var offset = logs.Take(logs.Count - 1).Sum(l => l.Length / RecordingSpanDeduplicator.RecordSize);
            foreach (var text in group)
            {
                var document = cleaner.Clean($"http://p/{page++}", "en", null, text, out var rejection);
                outcomes.Add((document, rejection, offset + recorder.Calls - (document?.Spans ?? 0)));
            }
        }
        var local = new List<bool>();
        var run = new List<bool>();
        var everything = new InProcessSpanDeduplicator();
        foreach (var log in logs)
        {
            log.Position = 0;
            foreach (var (hash, firstSeen) in RecordingSpanDeduplicator.Read(log))
            {
                local.Add(firstSeen);
                run.Add(everything.FirstSeen(hash));
            }
        }
        return [.. outcomes.Select(o =>
        {
            if (o.Document is null) return "rejected: " + o.Rejection;
            var first = (int)o.FirstCall;
            var replayed = SpanDedupeReplay.Apply(o.Document, local.GetRange(first, o.Document.Spans).ToArray(), run.GetRange(first, o.Document.Spans).ToArray(),
                options, out var rejection);
            return replayed?.Text ?? "rejected: " + rejection;
        })];
    }

    [Fact]
    public void Pages_cleaned_in_groups_and_replayed_with_run_wide_answers_equal_one_run_over_all_pages()
    {
        Gen.Select(Page.Array[1, 6].Array[1, 4], Gen.Int[0, 6]).Sample((groups, minSentences) =>
        {
            var options = new TextCleaningOptions { MinSentences = minSentences };
            return CleanInOneRun(groups.SelectMany(g => g), options).SequenceEqual(CleanInGroupsAndReplay(groups, options));
        }, iter: 300);
    }

    [Fact]
    public void A_span_repeated_only_across_groups_is_removed_and_can_reject_a_page()
    {
        var options = new TextCleaningOptions();
        var first = string.Join("\n", Sentences[..6]);
        // Shares its first three sentences with the first page; five of six would leave too few after removal.
        var shortened = string.Join("\n", Sentences[..3].Concat(Sentences[6..8]));
        var trimmed = string.Join("\n", Sentences[..3].Concat(Sentences[8..12]).Append(Sentences[4]));
        string[][] groups = [[first], [shortened, trimmed]];

        var replayed = CleanInGroupsAndReplay(groups, options);

        Assert.Equal(CleanInOneRun(groups.SelectMany(g => g), options), replayed);
        Assert.Equal("rejected: " + C4TextCleaner.DuplicateSpans, replayed[1]);
        Assert.Equal(string.Join("\n", Sentences[8..12].Append(Sentences[4])), replayed[2]);
    }

    [Fact]
    public void Answers_that_keep_a_span_seen_before_are_refused()
    {
        var cleaner = new C4TextCleaner(new TextCleaningOptions(), new InProcessSpanDeduplicator());
        cleaner.Clean("http://p/0", "en", null, string.Join("\n", Sentences[..6]), out _);
        var document = cleaner.Clean("http://p/1", "en", null, string.Join("\n", Sentences[..3].Concat(Sentences[6..12])), out _)!;
        bool[] local = [false, true, true, true, true, true, true];
        Assert.Equal(local.Length, document.Spans);
        Assert.Throws<ArgumentException>(() => SpanDedupeReplay.Apply(document, local, [true, true, true, true, true, true, false], new TextCleaningOptions(), out _));
    }
}
