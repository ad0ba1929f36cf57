using System.Net;
using System.Text;

namespace Platform.Ingestion.Html;

/// <summary>
/// Extracts images, metadata and visible text from UTF-8 HTML in one forward pass over the bytes.
/// It is a tokenizer, not a tree builder: no DOM, no recursion (deep nesting costs nothing), and
/// strings are made only for the attributes and text it keeps. A full HTML5 parser was several
/// times slower than decompression, which is the budget this stage has.
/// </summary>
public sealed class HtmlExtractor
{
    private readonly TextBuffer text = new();
    // Per-page scratch collections, kept across pages so a page costs no collection growth.
    private readonly List<(string Url, string Origin)> pictureSources = [];
    private readonly HashSet<(string, string?)> seen = [];
    /// <summary>The links collected so far, for a constant-time duplicate check (a page may hold millions).</summary>
    private readonly HashSet<string> linksSeen = new(StringComparer.Ordinal);
    private readonly List<Attribute> attributes = new(8);

    /// <summary>Extracts from a page already in UTF-8 (see <see cref="CharsetDecoder"/>).</summary>
    /// <param name="collectLinks">Also collect <c>&lt;a href&gt;</c> targets into <see cref="HtmlPage.Links"/> (the crawler's frontier); off for extraction, which has no use for them.</param>
    public HtmlPage Extract(ReadOnlySpan<byte> html, string pageUrl, bool collectText, bool collectLinks = false)
    {
        var page = new HtmlPage { PageUrl = pageUrl };
        Uri.TryCreate(pageUrl, UriKind.Absolute, out var pageUri);
        var baseUrl = new BaseUrl(pageUri);
        var sawBase = false;
        var pictureDepth = 0;
        pictureSources.Clear();
        seen.Clear();
        linksSeen.Clear();
        text.Clear();

        var i = 0;
        while (i < html.Length)
        {
            var lt = html[i..].IndexOf((byte)'<');
            var textEnd = lt < 0 ? html.Length : i + lt;
            if (collectText && textEnd > i) AppendText(html[i..textEnd]);
            if (lt < 0) break;
            i = textEnd;
            if (i + 1 >= html.Length) break;
            var next = html[i + 1];
            if (next == (byte)'!')
            {
                if (html[i..].StartsWith("<!--"u8))
                {
                    var close = html[(i + 4)..].IndexOf("-->"u8);
                    i = close < 0 ? html.Length : i + 4 + close + 3;
                }
                else i = SkipPast(html, i, (byte)'>');
                continue;
            }
            if (next == (byte)'/')
            {
                var nameEnd = NameEnd(html, i + 2);
                var name = html[(i + 2)..nameEnd];
                if (Is(name, "picture"u8) && pictureDepth > 0)
                {
                    pictureDepth--;
                    if (pictureDepth == 0) pictureSources.Clear();
                }
                if (collectText && IsBlock(name)) text.Append('\n');
                i = SkipPast(html, nameEnd, (byte)'>');
                continue;
            }
            if (!char.IsAsciiLetter((char)next))
            {
                if (collectText) text.Append('<');
                i++;
                continue;
            }
            var tagNameEnd = NameEnd(html, i + 1);
            var tag = html[(i + 1)..tagNameEnd];
            var kind = Classify(tag);
            int tagEnd;
            if (kind is Tag.Anchor && !collectLinks) kind = Tag.Other;
            if (kind is Tag.Img or Tag.Source or Tag.Base or Tag.Meta or Tag.Html or Tag.Picture or Tag.Anchor)
            {
                attributes.Clear();
                tagEnd = ParseAttributes(html, tagNameEnd, attributes);
            }
            else tagEnd = SkipTag(html, tagNameEnd);
            i = tagEnd;

            if (kind is Tag.Other) continue;
            if (kind is Tag.Block)
            {
                if (collectText) text.Append('\n');
            }
            else if (kind is Tag.Img)
            {
                AddImage(page, html, attributes, baseUrl, pictureDepth > 0 ? pictureSources : null, seen);
            }
            else if (kind is Tag.Source)
            {
                if (pictureDepth > 0)
                {
                    var srcset = Value(html, attributes, "srcset"u8) ?? Value(html, attributes, "data-srcset"u8);
                    if (srcset is not null && LargestCandidate(srcset) is { } best) pictureSources.Add((best, "picture-source"));
                }
            }
            else if (kind is Tag.Picture) pictureDepth++;
            else if (kind is Tag.Anchor)
            {
                var rel = Value(html, attributes, "rel"u8);
                var nofollow = rel is not null && rel.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("nofollow", StringComparer.OrdinalIgnoreCase);
                if (!nofollow && Value(html, attributes, "href"u8) is { } href && baseUrl.Resolve(href) is { } link && linksSeen.Add(link))
                    page.Links.Add(link);
            }
            else if (kind is Tag.Base)
            {
                if (!sawBase && Value(html, attributes, "href"u8) is { } href && pageUri is not null && Uri.TryCreate(pageUri, href.Trim(), out var b))
                {
                    baseUrl = new BaseUrl(b);
                    sawBase = true;
                }
            }
            else if (kind is Tag.Html)
            {
                page.Language ??= PrimaryLanguage(Value(html, attributes, "lang"u8) ?? Value(html, attributes, "xml:lang"u8));
            }
            else if (kind is Tag.Meta)
            {
                var name = Value(html, attributes, "name"u8)?.Trim().ToLowerInvariant();
                var equiv = Value(html, attributes, "http-equiv"u8)?.Trim().ToLowerInvariant();
                var content = Value(html, attributes, "content"u8);
                if (name is "robots") page.Robots |= Robots.Parse(content);
                if (equiv is "content-language") page.Language ??= PrimaryLanguage(content);
            }
            else if (kind is Tag.Title)
            {
                var close = IndexOfCloseTag(html, i, "title"u8);
                if (page.Title is null) page.Title = Collapse(Decode(html[i..(close < 0 ? html.Length : close)]));
                i = close < 0 ? html.Length : SkipPast(html, close, (byte)'>');
            }
            else if (kind is Tag.RawText)
            {
                var close = IndexOfCloseTag(html, i, tag);
                i = close < 0 ? html.Length : SkipPast(html, close, (byte)'>');
            }
        }
        if (collectText) page.TextBuffer = text.Memory;
        return page;
    }

    private readonly record struct Attribute(int NameStart, int NameLength, int ValueStart, int ValueLength);

    private static bool Is(ReadOnlySpan<byte> name, ReadOnlySpan<byte> lower) => Ascii.EqualsIgnoreCase(name, lower);

    private enum Tag { Other, Block, Img, Source, Picture, Base, Html, Meta, Title, RawText, Anchor }

    /// <summary>One classification per tag, dispatched on length first so most names cost one comparison.</summary>
    private static Tag Classify(ReadOnlySpan<byte> name) => name.Length switch
    {
        1 => Is(name, "a"u8) ? Tag.Anchor : Is(name, "p"u8) ? Tag.Block : Tag.Other,
        3 => Is(name, "img"u8) ? Tag.Img : Is(name, "xmp"u8) ? Tag.RawText : IsBlock(name) ? Tag.Block : Tag.Other,
        4 => Is(name, "span"u8) ? Tag.Other : Is(name, "base"u8) ? Tag.Base : Is(name, "meta"u8) ? Tag.Meta : Is(name, "html"u8) ? Tag.Html : IsBlock(name) ? Tag.Block : Tag.Other,
        5 => Is(name, "title"u8) ? Tag.Title : Is(name, "style"u8) ? Tag.RawText : IsBlock(name) ? Tag.Block : Tag.Other,
        6 => Is(name, "source"u8) ? Tag.Source : Is(name, "script"u8) ? Tag.RawText : IsBlock(name) ? Tag.Block : Tag.Other,
        7 => Is(name, "picture"u8) ? Tag.Picture : IsBlock(name) ? Tag.Block : Tag.Other,
        8 => Is(name, "textarea"u8) ? Tag.RawText : Tag.Other,
        _ => IsBlock(name) ? Tag.Block : Tag.Other,
    };

    private static int NameEnd(ReadOnlySpan<byte> html, int from)
    {
        var j = from;
        while (j < html.Length)
        {
            var c = html[j];
            if (c is (byte)'>' or (byte)'/' or (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f') break;
            j++;
        }
        return j;
    }

    private static int SkipPast(ReadOnlySpan<byte> html, int from, byte c)
    {
        var at = from >= html.Length ? -1 : html[from..].IndexOf(c);
        return at < 0 ? html.Length : from + at + 1;
    }

    /// <summary>Skips to the end of a tag, honouring quoted attribute values that may contain '&gt;'.</summary>
    private static int SkipTag(ReadOnlySpan<byte> html, int from)
    {
        var j = from;
        while (j < html.Length)
        {
            var at = html[j..].IndexOfAny((byte)'>', (byte)'"', (byte)'\'');
            if (at < 0) return html.Length;
            j += at;
            var c = html[j];
            if (c == (byte)'>') return j + 1;
            // A quote only opens a value right after '=' (possibly with spaces); elsewhere it is text.
            var k = j - 1;
            while (k > from && html[k] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r') k--;
            if (html[k] != (byte)'=') { j++; continue; }
            var close = html[(j + 1)..].IndexOf(c);
            if (close < 0) return html.Length;
            j += close + 2;
        }
        return html.Length;
    }

    private static int ParseAttributes(ReadOnlySpan<byte> html, int from, List<Attribute> attributes)
    {
        var j = from;
        while (j < html.Length)
        {
            while (j < html.Length && html[j] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f' or (byte)'/') j++;
            if (j >= html.Length) return html.Length;
            if (html[j] == (byte)'>') return j + 1;
            var nameStart = j;
            while (j < html.Length && html[j] is not ((byte)'=' or (byte)'>' or (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f' or (byte)'/')) j++;
            var nameLength = j - nameStart;
            while (j < html.Length && html[j] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f') j++;
            if (j < html.Length && html[j] == (byte)'=')
            {
                j++;
                while (j < html.Length && html[j] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f') j++;
                if (j >= html.Length) return html.Length;
                int valueStart, valueLength;
                if (html[j] is (byte)'"' or (byte)'\'')
                {
                    var quote = html[j];
                    var close = html[(j + 1)..].IndexOf(quote);
                    valueStart = j + 1;
                    valueLength = close < 0 ? html.Length - valueStart : close;
                    j = valueStart + valueLength + 1;
                }
                else
                {
                    valueStart = j;
                    while (j < html.Length && html[j] is not ((byte)'>' or (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f')) j++;
                    valueLength = j - valueStart;
                }
                if (attributes.Count < 64) attributes.Add(new Attribute(nameStart, nameLength, valueStart, valueLength));
            }
            else if (nameLength > 0 && attributes.Count < 64) attributes.Add(new Attribute(nameStart, nameLength, j, 0));
            if (nameLength == 0) j++;
        }
        return html.Length;
    }

    private static string? Value(ReadOnlySpan<byte> html, List<Attribute> attributes, ReadOnlySpan<byte> lowerName)
    {
        foreach (var a in attributes)
            if (a.NameLength == lowerName.Length && Ascii.EqualsIgnoreCase(html.Slice(a.NameStart, a.NameLength), lowerName))
                return Decode(html.Slice(a.ValueStart, a.ValueLength));
        return null;
    }

    private static string Decode(ReadOnlySpan<byte> raw)
    {
        var s = Encoding.UTF8.GetString(raw);
        return s.Contains('&') ? WebUtility.HtmlDecode(s) : s;
    }

    /// <summary>Collapses runs of white space (any Unicode space) to one space and trims.</summary>
    public static string Collapse(string s)
    {
        // Most alt texts and titles are already collapsed: no copy for them.
        if (Text.WhiteSpace.IsCollapsed(s)) return s;
        var sb = new StringBuilder(s.Length);
        var space = false;
        foreach (var c in s)
        {
            if (char.IsWhiteSpace(c)) { space = sb.Length > 0; continue; }
            if (space) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        return sb.ToString();
    }

    private static string? PrimaryLanguage(string? tag)
    {
        if (string.IsNullOrWhiteSpace(tag)) return null;
        var first = tag.Split([',', ';'])[0].Trim();
        var dash = first.IndexOfAny(['-', '_']);
        var primary = (dash > 0 ? first[..dash] : first).ToLowerInvariant();
        return primary.Length is >= 2 and <= 3 && primary.All(char.IsAsciiLetter) ? primary : null;
    }

    private static int IndexOfCloseTag(ReadOnlySpan<byte> html, int from, ReadOnlySpan<byte> name)
    {
        var j = from;
        while (j < html.Length)
        {
            var at = html[j..].IndexOf("</"u8);
            if (at < 0) return -1;
            j += at;
            if (j + 2 + name.Length <= html.Length && Ascii.EqualsIgnoreCase(html.Slice(j + 2, name.Length), name)) return j;
            j += 2;
        }
        return -1;
    }

    private static bool IsBlock(ReadOnlySpan<byte> name) => name.Length switch
    {
        1 => Is(name, "p"u8),
        2 => Is(name, "br"u8) || Is(name, "li"u8) || Is(name, "tr"u8) || Is(name, "td"u8) || Is(name, "th"u8) || Is(name, "hr"u8) || Is(name, "dd"u8) || Is(name, "dt"u8) || Is(name, "ul"u8) || Is(name, "ol"u8)
             || (name[0] is (byte)'h' or (byte)'H' && name[1] is >= (byte)'1' and <= (byte)'6'),
        3 => Is(name, "div"u8) || Is(name, "nav"u8) || Is(name, "pre"u8),
        4 => Is(name, "main"u8) || Is(name, "form"u8),
        5 => Is(name, "table"u8) || Is(name, "aside"u8),
        6 => Is(name, "header"u8) || Is(name, "footer"u8) || Is(name, "figure"u8) || Is(name, "option"u8),
        7 => Is(name, "section"u8) || Is(name, "article"u8) || Is(name, "summary"u8) || Is(name, "details"u8),
        10 => Is(name, "blockquote"u8) || Is(name, "figcaption"u8),
        _ => false,
    };

    private void AppendText(ReadOnlySpan<byte> raw)
    {
        // Indentation between tags is most of the text segments in real markup.
        if (raw.IndexOfAnyExcept(" \t\r\n"u8) < 0)
        {
            text.Append(' ');
            return;
        }
        var start = text.Length;
        text.AppendUtf8(raw);
        var segment = text.Memory.Span[start..];
        if (segment.IndexOf('&') >= 0)
        {
            var decoded = WebUtility.HtmlDecode(new string(segment));
            text.Length = start;
            text.Append(decoded);
        }
    }

    /// <summary>A growable character buffer whose contents can be read as a span without making a string.</summary>
    private sealed class TextBuffer
    {
        private char[] chars = new char[1 << 14];

        public int Length { get; set; }

        public ReadOnlyMemory<char> Memory => chars.AsMemory(0, Length);

        public void Clear() => Length = 0;

        public void Append(char c)
        {
            Ensure(1);
            chars[Length++] = c;
        }

        public void Append(string s)
        {
            Ensure(s.Length);
            s.CopyTo(chars.AsSpan(Length));
            Length += s.Length;
        }

        public void AppendUtf8(ReadOnlySpan<byte> utf8)
        {
            Ensure(utf8.Length);
            Length += Encoding.UTF8.GetChars(utf8, chars.AsSpan(Length));
        }

        private void Ensure(int more)
        {
            if (Length + more > chars.Length) Array.Resize(ref chars, Math.Max(chars.Length * 2, Length + more));
        }
    }

    private static void AddImage(HtmlPage page, ReadOnlySpan<byte> html, List<Attribute> attributes, BaseUrl baseUrl,
        List<(string Url, string Origin)>? pictureSources, HashSet<(string, string?)> seen)
    {
        var alt = Value(html, attributes, "alt"u8) is { } a ? Collapse(a) : null;
        var width = Dimension(Value(html, attributes, "width"u8));
        var height = Dimension(Value(html, attributes, "height"u8));
        var chosen = (Url: (string?)null, Origin: "");
        if (Value(html, attributes, "srcset"u8) is { } srcset && LargestCandidate(srcset) is { } fromSrcset) chosen = (fromSrcset, "srcset");
        else if (Value(html, attributes, "data-srcset"u8) is { } lazySet && LargestCandidate(lazySet) is { } fromLazySet) chosen = (fromLazySet, "data-srcset");
        else if ((Value(html, attributes, "data-src"u8) ?? Value(html, attributes, "data-lazy-src"u8) ?? Value(html, attributes, "data-original"u8)) is { } lazy && !string.IsNullOrWhiteSpace(lazy)) chosen = (lazy, "data-src");
        else if (Value(html, attributes, "src"u8) is { } src && !string.IsNullOrWhiteSpace(src)) chosen = (src, "src");

        if (chosen.Url is not null) Add(chosen.Url, chosen.Origin, width, height);
        if (pictureSources is not null)
            foreach (var (url, origin) in pictureSources) Add(url, origin, null, null);

        void Add(string raw, string origin, int? w, int? h)
        {
            var resolved = baseUrl.Resolve(raw);
            if (resolved is null)
            {
                page.UnusableImageUrls++;
                return;
            }
            if (seen.Add((resolved, alt))) page.Images.Add(new ImageReference(resolved, alt, w, h, origin));
        }
    }

    private static int? Dimension(string? value)
    {
        if (value is null) return null;
        var digits = value.Trim();
        var end = 0;
        while (end < digits.Length && char.IsAsciiDigit(digits[end])) end++;
        return end > 0 && end <= 6 ? int.Parse(digits.AsSpan(0, end)) : null;
    }

    /// <summary>The srcset candidate with the largest width (w) or density (x) descriptor.</summary>
    public static string? LargestCandidate(string srcset)
    {
        string? best = null;
        var bestScore = double.MinValue;
        var i = 0;
        while (i < srcset.Length)
        {
            while (i < srcset.Length && (char.IsWhiteSpace(srcset[i]) || srcset[i] == ',')) i++;
            var start = i;
            while (i < srcset.Length && !char.IsWhiteSpace(srcset[i])) i++;
            var url = srcset[start..i];
            var descriptorStart = i;
            if (url.EndsWith(',')) url = url.TrimEnd(',');
            else
            {
                while (i < srcset.Length && srcset[i] != ',') i++;
            }
            if (url.Length == 0) continue;
            var descriptor = srcset[descriptorStart..Math.Min(i, srcset.Length)].Trim();
            double score = 1;
            if (descriptor.Length > 1 && double.TryParse(descriptor.AsSpan(0, descriptor.Length - 1), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n))
                score = descriptor[^1] is 'w' or 'W' ? n * 1000 : descriptor[^1] is 'x' or 'X' ? n : 1;
            if (score > bestScore)
            {
                bestScore = score;
                best = url;
            }
        }
        return best;
    }
}
