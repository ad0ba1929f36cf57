using Platform.Ingestion.Filters;
using Platform.Ingestion.Html;

namespace Platform.Ingestion.Tests;

public class FilterTests
{
    private static string? Check(string? alt, string? lang = "en", AltTextFilterOptions? options = null,
        RobotsDirectives page = RobotsDirectives.None, RobotsDirectives image = RobotsDirectives.None) =>
        new AltTextFilter(options ?? new AltTextFilterOptions()).Check(new CandidateFacts(alt, lang, page, image));

    [Theory]
    [InlineData("two words", "alt_too_few_words")]
    [InlineData("three plain words", null)]
    [InlineData("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty", null)]
    [InlineData("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone", "alt_too_many_words")]
    public void Word_count_bounds_are_inclusive(string alt, string? expected) => Assert.Equal(expected, Check(alt));

    [Fact]
    public void Character_bounds_are_inclusive()
    {
        var options = new AltTextFilterOptions { MinWords = 1, MinChars = 5, MaxChars = 10 };
        Assert.Equal("alt_too_short", Check("abcd", options: options));
        Assert.Null(Check("abcde", options: options));
        Assert.Null(Check("abcdefghij", options: options));
        Assert.Equal("alt_too_long", Check("abcdefghijk", options: options));
    }

    [Fact]
    public void Missing_and_empty_alt_have_their_own_reasons()
    {
        Assert.Equal("no_alt", Check(null));
        Assert.Equal("empty_alt", Check(""));
    }

    [Theory]
    [InlineData("Logo image icon")]
    [InlineData("click here for more")]
    [InlineData("Next | Previous | Home")]
    public void Boilerplate_alt_texts_are_rejected(string alt) => Assert.Equal("alt_boilerplate", Check(alt));

    [Theory]
    [InlineData("IMG_20190312 beach sunset")]
    [InlineData("my holiday photo 2019.jpg")]
    [InlineData("DSC 0042 at the lake")]
    public void File_names_are_rejected(string alt) => Assert.Equal("alt_file_name", Check(alt));

    [Fact]
    public void Descriptive_text_with_some_boilerplate_words_passes()
    {
        Assert.Null(Check("the logo of the Red Cross on a tent"));
        Assert.Null(Check("Logo image icon", options: new AltTextFilterOptions { RejectBoilerplate = false }));
    }

    [Fact]
    public void Language_filter_allows_configured_languages_and_can_be_off()
    {
        Assert.Null(Check("a dog on the beach", "en"));
        Assert.Equal("language_not_allowed", Check("ein Hund am Strand", "de"));
        Assert.Null(Check("ein Hund am Strand", "de", new AltTextFilterOptions { Languages = new HashSet<string>() }));
        Assert.Null(Check("ein Hund am Strand", "de", new AltTextFilterOptions { Languages = new HashSet<string> { "en", "de" } }));
        Assert.Null(Check("a dog on the beach", null));
        Assert.Equal("language_unknown", Check("a dog on the beach", null, new AltTextFilterOptions { RejectUnknownLanguage = true }));
    }

    [Theory]
    [InlineData(RobotsDirectives.NoAi)]
    [InlineData(RobotsDirectives.NoImageAi)]
    [InlineData(RobotsDirectives.NoIndex)]
    [InlineData(RobotsDirectives.NoImageIndex)]
    public void Every_opt_out_directive_is_honoured_unless_disabled(RobotsDirectives directive)
    {
        Assert.Equal("page_opt_out", Check("a dog on the beach", page: directive));
        Assert.Equal("image_opt_out", Check("a dog on the beach", image: directive));
        Assert.Null(Check("a dog on the beach", page: directive, options: new AltTextFilterOptions { HonourOptOut = false }));
    }

    [Fact]
    public void Robots_values_parse_with_user_agent_prefixes_and_case()
    {
        Assert.Equal(RobotsDirectives.NoAi | RobotsDirectives.NoImageIndex, Robots.Parse("NoAI, googlebot: noimageindex"));
        Assert.Equal(RobotsDirectives.None, Robots.Parse("index, follow"));
    }

    [Fact]
    public void Frequency_filters_trip_just_above_their_limits()
    {
        var options = new FrequencyFilterOptions { MaxImagesPerAltText = 10, MaxAltTextsPerImage = 3 };
        var counter = new InProcessPairFrequencyCounter(options);
        for (var i = 0; i < 10; i++) counter.Observe($"http://x.test/{i}.jpg", "Shared caption here");
        Assert.Null(FrequencyFilter.Check(counter, options, "http://x.test/0.jpg", "Shared caption here"));
        counter.Observe("http://x.test/10.jpg", "  SHARED caption here ");
        Assert.Equal("alt_shared_by_too_many_images", FrequencyFilter.Check(counter, options, "http://x.test/0.jpg", "Shared caption here"));

        for (var i = 0; i < 3; i++) counter.Observe("http://x.test/spacer.gif", $"caption number {i}");
        Assert.Null(FrequencyFilter.Check(counter, options, "http://x.test/spacer.gif", "caption number 0"));
        counter.Observe("http://x.test/spacer.gif", "caption number 0");
        Assert.Null(FrequencyFilter.Check(counter, options, "http://x.test/spacer.gif", "caption number 0"));
        counter.Observe("http://x.test/spacer.gif", "caption number 3");
        Assert.Equal("image_has_too_many_alts", FrequencyFilter.Check(counter, options, "http://x.test/spacer.gif", "caption number 0"));
    }
}

public class LanguageListTests
{
    [Theory]
    [InlineData("en", new[] { "en" })]
    [InlineData(" EN, de ,,fr ", new[] { "de", "en", "fr" })]
    [InlineData("off", new string[0])]
    [InlineData("OFF ", new string[0])]
    public void Command_line_language_lists_parse_to_lower_case_codes_and_off_to_no_filter(string list, string[] expected) =>
        Assert.Equal(expected, AltTextFilterOptions.ParseLanguages(list).Order(StringComparer.Ordinal));
}

public class FunnelStatsTests
{
    [Fact]
    public void Merging_work_units_adds_every_count_and_keeps_stage_order()
    {
        var a = new Pipeline.FunnelStats();
        a.Enter("pages", 3);
        a.Pass("pages", 2);
        a.Reject("pages", "bad", 1);
        var b = new Pipeline.FunnelStats();
        b.Enter("candidates", 5);
        b.Enter("pages", 4);
        b.Reject("pages", "bad", 2);
        b.Note("pages", "charset_windows-1252");
        a.Merge(b);
        Assert.Equal((7L, 2L, 3L, 1L), (a.Stage("pages").In, a.Stage("pages").Passed, a.Rejections("pages", "bad"), a.Notes("pages", "charset_windows-1252")));
        Assert.Equal(5, a.Stage("candidates").In);
        Assert.True(a.ToJson().IndexOf("\"pages\"", StringComparison.Ordinal) < a.ToJson().IndexOf("\"candidates\"", StringComparison.Ordinal));
    }
}
