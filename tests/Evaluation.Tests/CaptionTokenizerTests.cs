using Platform.Model.Evaluation.Captioning;

namespace Platform.Evaluation.Tests;

public class CaptionTokenizerTests
{
    [Theory]
    [InlineData("A man riding a horse.", "a man riding a horse")]
    [InlineData("Two dogs, one cat; and a bird!", "two dogs one cat and a bird")]
    [InlineData("The dog's ball is red.", "the dog 's ball is red")]
    [InlineData("The dogs' toys", "the dogs toys")]
    [InlineData("I don't know, it can't be.", "i do n't know it ca n't be")]
    [InlineData("They're here and we've gone", "they 're here and we 've gone")]
    [InlineData("You cannot park", "you can not park")]
    [InlineData("He said \"hello there\" loudly", "he said hello there loudly")]
    [InlineData("a black-and-white photo -- very old...", "a black-and-white photo very old")]
    [InlineData("It costs 1,000.50 dollars?", "it costs 1,000.50 dollars")]
    [InlineData("red,blue and green", "red blue and green")]
    [InlineData("A bus on Main St. in the U.S.", "a bus on main st. in the u.s.")]
    [InlineData("A sign that says no.", "a sign that says no")]         // "no" is not an abbreviation here
    [InlineData("A 'no parking' sign", "a no parking sign")]           // single quotes become ` and ', both removed
    [InlineData("  Extra   spaces\tand\nnew lines  ", "extra spaces and new lines")]
    public void Tokenizes_like_ptb_then_drops_reference_punctuation(string caption, string expected)
    {
        Assert.Equal(expected, CaptionTokenizer.TokenizeToText(caption));
    }

    [Fact]
    public void Bracket_tokens_survive_because_lowercasing_precedes_the_upper_case_removal_list()
    {
        // PTB turns ( ) into -LRB- -RRB-; -lowerCase makes them -lrb- -rrb-, which the removal list
        // (upper-case -LRB-) does not contain, so the reference keeps them. Brackets [ ] are never listed.
        Assert.Equal(["a", "cat", "-lrb-", "black", "-rrb-", "-lsb-", "x", "-rsb-"], CaptionTokenizer.Tokenize("A cat (black) [x]"));
    }

    [Fact]
    public void Ptb_tokens_normalise_quotes_and_brackets_before_lowercasing()
    {
        Assert.Equal(["``", "Hi", "''", "-LRB-", "there", "-RRB-", "."], CaptionTokenizer.PtbTokens("\"Hi\" (there)."));
    }

    [Theory]
    [InlineData("a grey cat", "a gray cat")]                 // whole-word respelling
    [InlineData("Grey cat", "grey cat")]                     // case-sensitive before lower-casing: "Grey" is not respelled
    [InlineData("a colourful centre", "a colorful center")]
    [InlineData("the harbours and parlours", "the harbors and parlors")] // "-our(s)" rule, 3+ letters before it
    [InlineData("a velour contour", "a velour contour")]     // listed exceptions to the "-our" rule
    [InlineData("our tour", "our tour")]                     // too short for the rules
    [InlineData("a programme", "a program")]
    public void British_spellings_are_americanized_as_the_ptb_tokenizer_does(string caption, string expected)
    {
        Assert.Equal(expected, CaptionTokenizer.TokenizeToText(caption));
    }

    [Fact]
    public void Slashes_and_asterisks_are_escaped_inside_tokens()
    {
        Assert.Equal(["black\\/white", "5\\*"], CaptionTokenizer.Tokenize("black/white 5*"));
    }

    [Fact]
    public void Punctuation_only_caption_tokenizes_to_nothing()
    {
        Assert.Empty(CaptionTokenizer.Tokenize(" . , ! ? ; : -- ... "));
    }
}
