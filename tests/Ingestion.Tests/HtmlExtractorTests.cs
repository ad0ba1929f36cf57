using System.Text;
using Platform.Ingestion.Html;

namespace Platform.Ingestion.Tests;

public class HtmlExtractorTests
{
    private static HtmlPage Extract(string html, string url = "http://example.test/dir/page.html", bool text = false) =>
        new HtmlExtractor().Extract(Encoding.UTF8.GetBytes(html), url, text);

    [Fact]
    public void Resolves_relative_protocol_relative_and_base_href_urls()
    {
        var page = Extract("""
            <html><head><base href="/assets/"></head><body>
            <img src="a.jpg" alt="relative to base">
            <img src="//cdn.example.test/b.png" alt="protocol relative">
            <img src="https://other.test/c.gif#frag" alt="absolute">
            <img src="data:image/png;base64,AAAA" alt="inline">
            </body></html>
            """);
        Assert.Equal(["http://example.test/assets/a.jpg", "http://cdn.example.test/b.png", "https://other.test/c.gif"], page.Images.Select(i => i.ImageUrl));
        Assert.Equal(1, page.UnusableImageUrls);
    }

    [Fact]
    public void Without_base_relative_urls_resolve_against_the_page()
    {
        var page = Extract("<img src='../up.jpg' alt=x><img src='same.jpg' alt=y>");
        Assert.Equal(["http://example.test/up.jpg", "http://example.test/dir/same.jpg"], page.Images.Select(i => i.ImageUrl));
    }

    [Fact]
    public void Takes_the_largest_srcset_candidate_and_lazy_loading_attributes()
    {
        var page = Extract("""
            <img src="small.jpg" srcset="small.jpg 320w, large.jpg 1280w, medium.jpg 640w" alt="widths">
            <img src="lo.jpg" srcset="lo.jpg, hi.jpg 2x" alt="densities">
            <img src="placeholder.gif" data-src="real.jpg" alt="lazy">
            <img src="placeholder.gif" data-srcset="lazy-1.jpg 100w, lazy-2.jpg 900w" alt="lazy set">
            """);
        Assert.Equal(["large.jpg", "hi.jpg", "real.jpg", "lazy-2.jpg"], page.Images.Select(i => i.ImageUrl.Split('/')[^1]));
        Assert.Equal(["srcset", "srcset", "data-src", "data-srcset"], page.Images.Select(i => i.Origin));
    }

    [Fact]
    public void Picture_sources_become_candidates_with_the_img_alt()
    {
        var page = Extract("""
            <picture><source srcset="p.webp 1x, p2.webp 2x" type="image/webp"><source media="(min-width: 800px)" srcset="wide.jpg 1600w">
            <img src="fallback.jpg" alt="A red bicycle"></picture><img src="after.jpg" alt="after">
            """);
        Assert.Equal(["fallback.jpg", "p2.webp", "wide.jpg", "after.jpg"], page.Images.Select(i => i.ImageUrl.Split('/')[^1]));
        Assert.All(page.Images.Take(3), i => Assert.Equal("A red bicycle", i.AltText));
    }

    [Fact]
    public void Decodes_entities_collapses_white_space_and_reads_dimensions()
    {
        var page = Extract("<IMG SRC=x.jpg ALT=\"Caf&eacute; &amp; cr&#234;pes&nbsp;\n\t at   dusk &#x1F600;\" width=\"640px\" height=480>");
        var image = Assert.Single(page.Images);
        Assert.Equal("Café & crêpes at dusk 😀", image.AltText);
        Assert.Equal(640, image.Width);
        Assert.Equal(480, image.Height);
    }

    [Fact]
    public void Missing_alt_is_null_and_empty_alt_is_empty()
    {
        var page = Extract("<img src=a.jpg><img src=b.jpg alt=''>");
        Assert.Null(page.Images[0].AltText);
        Assert.Equal("", page.Images[1].AltText);
    }

    [Fact]
    public void Reads_title_language_and_robots_directives()
    {
        var page = Extract("""
            <!doctype html><html lang="en-GB"><head><title> The  &quot;best&quot; page </title>
            <meta name="robots" content="noai, noimageai"><meta name="ROBOTS" content="noimageindex">
            <script>var s = "<img src='not-an-image.jpg' alt='script'>";</script>
            <style>img { content: "<img src=x>" }</style><!-- <img src="commented.jpg" alt="c"> -->
            </head><body><img src="real.jpg" alt="real"></body></html>
            """);
        Assert.Equal("The \"best\" page", page.Title);
        Assert.Equal("en", page.Language);
        Assert.Equal(RobotsDirectives.NoAi | RobotsDirectives.NoImageAi | RobotsDirectives.NoImageIndex, page.Robots);
        Assert.Equal("real", Assert.Single(page.Images).AltText);
    }

    [Fact]
    public void Content_language_meta_is_used_when_lang_is_absent()
    {
        Assert.Equal("de", Extract("<meta http-equiv='Content-Language' content='de-AT'><img src=a.jpg alt=x>").Language);
    }

    [Fact]
    public void Quoted_greater_than_signs_do_not_end_a_tag()
    {
        var page = Extract("<a title=\"a > b\"><img alt=\"x > y\" src=\"q.jpg\"></a>");
        Assert.Equal("x > y", Assert.Single(page.Images).AltText);
    }

    [Fact]
    public void Deep_nesting_and_unclosed_markup_do_not_fail()
    {
        var deep = string.Concat(Enumerable.Repeat("<div><span>", 200_000)) + "<img src=deep.jpg alt=deep>" + "<img src=\"unterminated";
        var page = Extract(deep, text: true);
        Assert.Equal("deep", page.Images[0].AltText);
        Assert.Equal("http://example.test/dir/deep.jpg", page.Images[0].ImageUrl);
        Assert.Equal("never closed", Assert.Single(Extract("<img src='x.jpg' alt='never closed").Images).AltText);
    }

    [Fact]
    public void Text_has_block_elements_on_their_own_lines_without_scripts()
    {
        var page = Extract("<body><h1>Heading</h1><p>First &amp; one.</p><script>alert('x')</script><div>Second<br>Third</div></body>", text: true);
        var lines = page.Text!.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["Heading", "First & one.", "Second", "Third"], lines);
    }

    [Fact]
    public void Declared_charsets_are_honoured_and_missing_ones_detected()
    {
        var latin = Encoding.Latin1.GetBytes("<html><img src=a.jpg alt='déjà vu à Montréal'></html>");
        var decoded = CharsetDecoder.ToUtf8(latin, "iso-8859-1", out var charset);
        Assert.Equal("windows-1252", charset);
        Assert.Equal("déjà vu à Montréal", new HtmlExtractor().Extract(decoded.Span, "http://x.test/", false).Images[0].AltText);

        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var sjis = Encoding.GetEncoding("shift_jis").GetBytes("<html><head><meta charset=\"Shift_JIS\"></head><img src=a.jpg alt='日本語の説明文'></html>");
        var fromMeta = CharsetDecoder.ToUtf8(sjis, null, out var metaCharset);
        Assert.Equal("shift_jis", metaCharset);
        Assert.Equal("日本語の説明文", new HtmlExtractor().Extract(fromMeta.Span, "http://x.test/", false).Images[0].AltText);

        var undeclared = Encoding.GetEncoding("windows-1251").GetBytes("<html><p>" + string.Concat(Enumerable.Repeat("Привет, как дела? Это длинный русский текст для определения кодировки. ", 20)) + "</p><img src=a.jpg alt='Кошка на окне'></html>");
        var detected = CharsetDecoder.ToUtf8(undeclared, null, out var detectedCharset);
        Assert.Equal("windows-1251", detectedCharset);
        Assert.Equal("Кошка на окне", new HtmlExtractor().Extract(detected.Span, "http://x.test/", false).Images[0].AltText);
    }

    [Fact]
    public void Invalid_utf8_never_throws()
    {
        var bytes = Encoding.UTF8.GetBytes("<html><img src=a.jpg alt='ok ").Concat(new byte[] { 0xff, 0xfe, 0xc3 }).Concat("'></html>"u8.ToArray()).ToArray();
        var decoded = CharsetDecoder.ToUtf8(bytes, "utf-8", out _);
        var page = new HtmlExtractor().Extract(decoded.Span, "http://x.test/", true);
        Assert.StartsWith("ok ", Assert.Single(page.Images).AltText);
    }
}
