using System.Text;
using System.Text.Unicode;

namespace Platform.Ingestion.Html;

/// <summary>
/// Brings a page's bytes to UTF-8: the declared charset (HTTP header, then meta tag) wins; without
/// one, valid UTF-8 is taken as such and anything else goes to UTF.Unknown's detector. Invalid
/// bytes become U+FFFD; nothing here throws on bad input.
/// </summary>
public static class CharsetDecoder
{
    static CharsetDecoder() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static ReadOnlyMemory<byte> ToUtf8(ReadOnlyMemory<byte> body, string? declaredCharset, out string charset)
    {
        charset = Normalize(declaredCharset ?? SniffMetaCharset(body.Span));
        if (charset.Length == 0)
        {
            if (Utf8.IsValid(body.Span))
            {
                charset = "utf-8";
                return body;
            }
            charset = Normalize(Detect(body));
        }
        if (charset is "utf-8" or "us-ascii" or "") 
        {
            charset = "utf-8";
            return body;
        }
        Encoding encoding;
        try
        {
            encoding = Encoding.GetEncoding(charset);
        }
        catch (ArgumentException)
        {
            charset = "utf-8";
            return body;
        }
        if (encoding.CodePage == Encoding.UTF8.CodePage) return body;
        return Encoding.UTF8.GetBytes(encoding.GetString(body.Span));
    }

    private static string Normalize(string? name) => (name ?? "").Trim().Trim('"', '\'').ToLowerInvariant() switch
    {
        "utf8" or "utf-8" or "unicode-1-1-utf-8" => "utf-8",
        "ascii" or "us-ascii" => "us-ascii",
        // Browsers read Latin-1 labels as windows-1252, and pages rely on that.
        "iso-8859-1" or "latin1" or "latin-1" or "l1" => "windows-1252",
        var other => other,
    };

    private static string? Detect(ReadOnlyMemory<byte> body)
    {
        var sample = body.Length > 64 * 1024 ? body[..(64 * 1024)] : body;
        var result = UtfUnknown.CharsetDetector.DetectFromBytes(sample.ToArray());
        return result.Detected?.EncodingName;
    }

    /// <summary>`&lt;meta charset=x&gt;` or `http-equiv` content-type in the first 4 KiB, as browsers prescan.</summary>
    public static string? SniffMetaCharset(ReadOnlySpan<byte> html)
    {
        var head = html[..Math.Min(html.Length, 4096)];
        var at = 0;
        while (true)
        {
            var i = IndexOfIgnoreCase(head[at..], "charset"u8);
            if (i < 0) return null;
            at += i + 7;
            var rest = head[at..];
            var j = 0;
            while (j < rest.Length && (rest[j] == (byte)' ' || rest[j] == (byte)'=')) j++;
            if (j == 0 || rest[..j].IndexOf((byte)'=') < 0) continue;
            while (j < rest.Length && (rest[j] == (byte)'"' || rest[j] == (byte)'\'')) j++;
            var k = j;
            while (k < rest.Length && (char.IsAsciiLetterOrDigit((char)rest[k]) || rest[k] is (byte)'-' or (byte)'_' or (byte)':' or (byte)'.')) k++;
            if (k > j) return Encoding.ASCII.GetString(rest[j..k]);
        }
    }

    internal static int IndexOfIgnoreCase(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> lowerNeedle)
    {
        var offset = 0;
        while (true)
        {
            var i = haystack[offset..].IndexOfAny(lowerNeedle[0], (byte)(lowerNeedle[0] - 32));
            if (i < 0) return -1;
            var at = offset + i;
            if (at + lowerNeedle.Length > haystack.Length) return -1;
            if (Ascii.EqualsIgnoreCase(haystack.Slice(at, lowerNeedle.Length), lowerNeedle)) return at;
            offset = at + 1;
        }
    }
}
