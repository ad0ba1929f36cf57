using CsCheck;
using Platform.Ingestion.Html;

namespace Platform.Ingestion.Tests;

/// <summary>
/// Image URLs are resolved without System.Uri where their shape allows; the answers must be the ones Uri gives
/// (resolved against the base, http(s) only, fragment dropped) for any URL, plain or not.
/// </summary>
public class BaseUrlTests
{
    private static string? WithUri(Uri? baseUri, string raw)
    {
        var trimmed = raw.Trim();
        if (trimmed.Length == 0 || trimmed.StartsWith("data:", StringComparison.OrdinalIgnoreCase)) return null;
        Uri? uri;
        if (baseUri is null) Uri.TryCreate(trimmed, UriKind.Absolute, out uri);
        else Uri.TryCreate(baseUri, trimmed, out uri);
        if (uri is null || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)) return null;
        return uri.Fragment.Length > 0 ? uri.GetLeftPart(UriPartial.Query) : uri.AbsoluteUri;
    }

    private static Gen<string> Pick(params string[] choices) => Gen.Int[0, choices.Length - 1].Select(i => choices[i]);

    private static readonly string[] Bases =
    [
        "http://example.test/dir/page.html", "https://Shop.Example.test:8443/a/b/?q=1#top", "http://user:pw@example.test/x",
        "http://example.test", "http://example.test:80/p", "http://[::1]/v6/page", "http://192.168.0.1/p", "http://bücher.example/seite",
        "https://xn--bcher-kva.example/p", "ftp://files.example.test/pub/", "http://example.test/%7Euser/dir/",
    ];

    /// <summary>Pieces that are plain, and pieces each of which Uri rewrites or interprets (escapes, dot segments, ports, case, IPs).</summary>
    private static readonly Gen<string> Url = Gen.Select(
        Pick("", "", "/", "//", "http://", "https://", "HTTP://", "http:", "data:", "mailto:", " /"),
        Pick("", "example.test", "cdn.example.test", "EXAMPLE.test", "a..b", "-a.test", "a-.test", "x.-.test", "a--b.test", "xn--zz.test", "1.2.3.test", "localhost", "a.b.c.d.e.test", new string('b', 63) + ".test", "xn--bcher-kva.example", "10.0.0.1", "0x7f.1", "host.test:8080",
            "user@host.test", "host.test.", "b\u00fccher.example", new string('a', 64) + ".test", "[::1]"),
        Pick("a", "A", "0", "-", ".", "..", "_", "~", "/", "/", "/", "?", "=", "&", "%20", "%7e", "%", "#", ":", " ", "\t", "é", "\\", "@", "+", "'", "\"", "<", "{",
            "img", "x.jpg", "/./", "/../", "/.well-known", "//").Array[0, 8].Select(string.Concat),
        (scheme, host, path) => scheme + host + path);

    [Fact]
    public void Resolves_as_System_Uri_does_for_any_url_and_base()
    {
        Gen.Select(Gen.Int[-1, Bases.Length - 1], Url).Sample((baseIndex, raw) =>
        {
            Uri? baseUri = null;
            if (baseIndex >= 0) Uri.TryCreate(Bases[baseIndex], UriKind.Absolute, out baseUri);
            return new BaseUrl(baseUri).Resolve(raw) == WithUri(baseUri, raw);
        }, iter: 20_000);
    }

    [Fact]
    public void Root_relative_and_plain_absolute_urls_resolve_to_the_expected_address()
    {
        Uri.TryCreate("https://Shop.Example.test:8443/a/b.html?q=1#top", UriKind.Absolute, out var page);
        var baseUrl = new BaseUrl(page);
        Assert.Equal("https://shop.example.test:8443/img/1-1024.jpg", baseUrl.Resolve(" /img/1-1024.jpg "));
        Assert.Equal("http://cdn.example.test/x.png?w=2&h=3", baseUrl.Resolve("http://cdn.example.test/x.png?w=2&h=3"));
        Assert.Equal("https://shop.example.test:8443/a/c.jpg", baseUrl.Resolve("./c.jpg"));
        Assert.Null(baseUrl.Resolve("data:image/gif;base64,R0lGOD"));
    }
}
