using System.Text;
using Platform.Ingestion.Html;
using Xunit;

namespace Platform.Ingestion.Tests.Crawling;

public sealed class LinkExtractionTests
{
    private static HtmlPage Extract(string html, bool collectLinks = true) =>
        new HtmlExtractor().Extract(Encoding.UTF8.GetBytes(html), "http://site.test/dir/page.html", collectText: false, collectLinks);

    [Fact]
    public void Links_are_absolute_without_fragments_once_each_and_skip_nofollow_and_non_http_targets()
    {
        var page = Extract("""
            <a href="next.html#part">next</a> <A HREF='/top.html'>top</A> <a href="next.html">again</a>
            <a rel="external nofollow" href="/sponsored.html">ad</a> <a href="mailto:x@site.test">mail</a>
            <a href="javascript:void(0)">js</a> <a name="anchor">no href</a> <a href="https://other.test/a?b=1">other</a>
            <img src="pic.jpg" alt="a picture">
            """);
        Assert.Equal(["http://site.test/dir/next.html", "http://site.test/top.html", "https://other.test/a?b=1"], page.Links);
        Assert.Single(page.Images);
    }

    [Fact]
    public void A_page_of_300000_links_yields_each_once_in_linear_time()
    {
        var html = new StringBuilder();
        for (var i = 0; i < 300_000; i++) html.Append("<a href=\"/p/").Append(i % 150_000).Append("\">x</a>");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var page = Extract(html.ToString());

        Assert.Equal(150_000, page.Links.Count);
        Assert.Equal("http://site.test/p/149999", page.Links[^1]);
        // A hash lookup per link is well under a second; the list scan it replaced took minutes.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }

    [Fact]
    public void Links_resolve_against_base_href_and_are_not_collected_unless_asked()
    {
        const string html = """<base href="http://cdn.test/root/"><a href="x.html">x</a>""";
        Assert.Equal(["http://cdn.test/root/x.html"], Extract(html).Links);
        Assert.Empty(Extract(html, collectLinks: false).Links);
    }

    [Theory]
    [InlineData("nofollow", RobotsDirectives.NoFollow)]
    [InlineData("none", RobotsDirectives.NoFollow | RobotsDirectives.NoIndex)]
    [InlineData("noai, nofollow", RobotsDirectives.NoFollow | RobotsDirectives.NoAi)]
    public void Robots_meta_nofollow_is_read(string content, RobotsDirectives expected) =>
        Assert.Equal(expected, Extract($"""<meta name="robots" content="{content}">""").Robots);
}
