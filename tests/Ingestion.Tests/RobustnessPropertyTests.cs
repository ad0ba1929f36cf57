using System.Text;
using CsCheck;
using Platform.Ingestion.Html;
using Platform.Ingestion.Http;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Tests;

public class RobustnessPropertyTests
{
    private static Gen<string> Pick(params string[] choices) => Gen.Int[0, choices.Length - 1].Select(i => choices[i]);

    private static readonly WarcSamples.Sample Plain = WarcSamples.Pages(10, gzip: false);
    private static readonly byte[] WholeFileGzip = WarcSamples.GzipWhole(Plain.Bytes);

    [Fact]
    public void A_truncated_whole_file_gzip_yields_a_prefix_of_the_records_without_throwing()
    {
        Gen.Int[0, WholeFileGzip.Length].Sample(cut =>
        {
            using var reader = new WarcReader(new MemoryStream(WholeFileGzip[..cut]), new FunnelStats());
            var uris = reader.ReadAll(TestContext.Current.CancellationToken).Select(r => r.TargetUri).ToList();
            Assert.Equal(Plain.TargetUris.Take(uris.Count), uris);
        }, iter: 100);
        using var whole = new WarcReader(new MemoryStream(WholeFileGzip), new FunnelStats());
        Assert.Equal(Plain.TargetUris, whole.ReadAll(TestContext.Current.CancellationToken).Select(r => r.TargetUri));
    }

    [Fact]
    public void Arbitrary_bytes_never_throw_from_html_extraction_or_charset_handling()
    {
        var markup = Pick("<", ">", "<img ", "src=", "alt=\"", "'", "\"", "&amp;", "&#x", "<!--", "-->", "<base href=", "<picture>", "<source srcset=\"a 1x, b 2w\">",
            "</", "<script>", "<title>", " ", "\n", "x", "é", "\uFFFD", "<meta charset=shift_jis>", "srcset=\", , 3w\"");
        var html = Gen.Frequency((3, markup.Array[0, 60].Select(parts => Encoding.UTF8.GetBytes(string.Concat(parts)))), (1, Gen.Byte.Array[0, 300]));
        html.Sample(bytes =>
        {
            var utf8 = CharsetDecoder.ToUtf8(bytes, null, out _);
            var page = new HtmlExtractor().Extract(utf8.Span, "http://robust.test/a/b.html", collectText: true);
            Assert.All(page.Images, i => Assert.StartsWith("http", i.ImageUrl));
        }, iter: 500);
    }

    [Fact]
    public void Arbitrary_http_blocks_never_throw_from_parsing_or_decoding()
    {
        var head = Pick("HTTP/1.1 200 OK\r\n", "HTTP/1.0 404 x\n", "HTTP/", "garbage\r\n");
        var header = Pick("Transfer-Encoding: chunked\r\n", "Content-Encoding: gzip\r\n", "Content-Encoding: br\r\n",
            "Content-Encoding: deflate\r\n", "Content-Type: text/html; charset=\"utf-8\"\r\n", "X-Robots-Tag: noai\r\n", ": empty name\r\n", " folded\r\n");
        Gen.Select(head, header.Array[0, 5], Gen.Byte.Array[0, 200]).Sample((status, headers, body) =>
        {
            var block = Encoding.ASCII.GetBytes(status + string.Concat(headers) + "\r\n").Concat(body).ToArray();
            if (HttpResponse.TryParse(block, out var response))
                HttpBody.TryDecode(response, block.AsMemory(response.BodyOffset), 1 << 16, out _, out _);
        }, iter: 500);
    }
}
