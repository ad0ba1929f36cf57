using System.Buffers;

namespace Platform.Ingestion.Text;

/// <summary>Shared test for text that is already collapsed, so collapsing it can return or copy it unchanged.</summary>
internal static class WhiteSpace
{
    /// <summary>Every character <see cref="char.IsWhiteSpace(char)"/> accepts except the plain space.</summary>
    public static readonly SearchValues<char> OtherThanSpace = SearchValues.Create(
        "\t\n\v\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000");

    /// <summary>True when collapsing white space would change nothing: single plain spaces, none at either end.</summary>
    public static bool IsCollapsed(ReadOnlySpan<char> text) =>
        text.IsEmpty || (text[0] != ' ' && text[^1] != ' ' && text.IndexOfAny(OtherThanSpace) < 0 && !text.Contains("  ", StringComparison.Ordinal));
}
