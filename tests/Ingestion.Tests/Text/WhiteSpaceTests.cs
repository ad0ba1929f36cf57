using CsCheck;
using Platform.Ingestion.Html;
using Platform.Ingestion.Text;
using Xunit;

namespace Platform.Ingestion.Tests.Text;

public class WhiteSpaceTests
{
    [Fact]
    public void Other_than_space_is_exactly_char_IsWhiteSpace_without_the_plain_space()
    {
        for (var c = char.MinValue; c < char.MaxValue; c++)
            Assert.Equal(char.IsWhiteSpace(c) && c != ' ', WhiteSpace.OtherThanSpace.Contains(c));
    }

    [Fact]
    public void Text_counts_as_collapsed_exactly_when_collapsing_would_not_change_it()
    {
        string[] pieces = ["a", "word", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "x.y", "é"];
        var piece = Gen.Int[0, pieces.Length - 1].Select(i => pieces[i]);
        piece.Array[0, 12].Select(string.Concat).Sample(text =>
            WhiteSpace.IsCollapsed(text) == (HtmlExtractor.Collapse(text) == text), iter: 2000);
    }
}
