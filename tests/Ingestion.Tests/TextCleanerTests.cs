using Platform.Ingestion.Text;

namespace Platform.Ingestion.Tests;

public class TextCleanerTests
{
    private const string Good = """
        The river runs through the old town and past the mill.
        Visitors often stop at the bridge to watch the boats.
        In spring the banks are covered with yellow flowers.
        Local bakers sell bread from small stalls near the water.
        The museum on the square tells the history of the town.
        """;

    private static C4TextCleaner Cleaner(TextCleaningOptions? options = null) => new(options ?? new TextCleaningOptions(), new InProcessSpanDeduplicator());

    [Fact]
    public void Keeps_lines_with_terminal_punctuation_and_three_words()
    {
        var cleaner = Cleaner();
        var doc = cleaner.Clean("u", "en", null, "Menu\nHome | About\nToo short.\n" + Good + "\nRead more", out var reason);
        Assert.Null(reason);
        Assert.Equal(Good.Replace("\r", ""), doc!.Text);
        var dropped = cleaner.TakeLinesDropped();
        Assert.Equal(3, dropped["no_terminal_punctuation"]);
        Assert.Equal(1, dropped["too_few_words"]);
        Assert.Empty(cleaner.TakeLinesDropped());
    }

    [Fact]
    public void Pages_need_five_sentences()
    {
        var four = string.Join('\n', Good.Split('\n').Take(4));
        Assert.Null(Cleaner().Clean("u", "en", null, four, out var reason));
        Assert.Equal("too_few_sentences", reason);
        Assert.NotNull(Cleaner(new TextCleaningOptions { MinSentences = 4 }).Clean("u", "en", null, four, out _));
    }

    [Theory]
    [InlineData("Lorem ipsum dolor sit amet, consectetur.", "lorem_ipsum")]
    [InlineData("The function body is { return x; } in this example.", "curly_bracket")]
    public void Lorem_ipsum_and_curly_brackets_drop_the_page(string line, string expected)
    {
        Assert.Null(Cleaner().Clean("u", "en", null, Good + "\n" + line, out var reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Javascript_and_cookie_policy_lines_are_dropped()
    {
        var doc = Cleaner().Clean("u", "en", null, Good + "\nPlease enable JavaScript to view the comments.\nThis site uses cookies to improve your experience.", out _);
        Assert.DoesNotContain("JavaScript", doc!.Text);
        Assert.DoesNotContain("cookies", doc.Text);
    }

    [Fact]
    public void Language_filter_applies_to_documents()
    {
        Assert.Null(Cleaner().Clean("u", "fr", null, Good, out var reason));
        Assert.Equal("language_not_allowed", reason);
        Assert.NotNull(Cleaner(new TextCleaningOptions { Languages = new HashSet<string>() }).Clean("u", "fr", null, Good, out _));
    }

    [Fact]
    public void Repeated_three_sentence_spans_are_kept_once_per_run()
    {
        var cleaner = Cleaner();
        var first = cleaner.Clean("a", "en", null, Good, out _);
        Assert.NotNull(first);
        var extra = "A new sentence about the harbour appears here. Another fresh sentence follows it now. The third new one closes. Four is here as well today. Five makes it enough for sure.";
        var second = cleaner.Clean("b", "en", null, Good + "\n" + extra, out var reason);
        Assert.Null(reason);
        Assert.DoesNotContain("river runs", second!.Text);
        Assert.Contains("harbour", second.Text);
        Assert.Null(cleaner.Clean("c", "en", null, Good, out var again));
        Assert.Equal("duplicate_spans", again);
    }

    [Fact]
    public void Removing_a_repeated_span_keeps_the_other_sentences_of_their_lines_in_place()
    {
        var cleaner = Cleaner();
        Assert.NotNull(cleaner.Clean("a", "en", null, Good, out _));
        var goodLines = Good.Replace("\r", "").Split('\n');
        var page = string.Join('\n',
            "Alpha sentence is right here. Beta sentence follows it closely.",
            goodLines[0], goodLines[1], goodLines[2],
            "Gamma sentence is written here. Delta sentence ends the page now. Epsilon closes it all today.");
        var document = cleaner.Clean("b", "en", null, page, out var reason);
        Assert.Null(reason);
        Assert.Equal("Alpha sentence is right here. Beta sentence follows it closely.\nGamma sentence is written here. Delta sentence ends the page now. Epsilon closes it all today.", document!.Text);
    }

    [Fact]
    public void With_no_sentence_minimum_a_page_without_kept_lines_is_an_empty_document()
    {
        var document = Cleaner(new TextCleaningOptions { MinSentences = 0 }).Clean("u", "en", null, "Menu\nHome | About", out var reason);
        Assert.Null(reason);
        Assert.Equal("", document!.Text);
    }

    [Fact]
    public void Sentences_split_at_terminal_punctuation_followed_by_space()
    {
        Assert.Equal(["He said \"hi.\"", "Then 3.5 km later!", "Done?"], C4TextCleaner.SplitSentences("He said \"hi.\" Then 3.5 km later! Done?"));
    }
}
