namespace Platform.Ingestion.Html;

/// <summary>
/// A page's base URL and the resolution of image URLs against it, with the answers <see cref="System.Uri"/>
/// gives. Building a Uri costs three objects and a parse per image; most image URLs are either
/// root-relative paths or absolute http(s) URLs that Uri returns unchanged, so those shapes are recognised
/// first and only the others go through Uri.
/// </summary>
internal readonly struct BaseUrl
{
    /// <summary>
    /// `scheme://authority` of the base, when its absolute form is plain ASCII and continues with a path
    /// after it: a root-relative path then resolves to this prefix followed by the path. Null otherwise.
    /// </summary>
    private readonly string? origin;

    public BaseUrl(Uri? uri)
    {
        Uri = uri;
        if (uri is null || (uri.Scheme != System.Uri.UriSchemeHttp && uri.Scheme != System.Uri.UriSchemeHttps)) return;
        var absolute = uri.AbsoluteUri;
        var authority = uri.GetLeftPart(UriPartial.Authority);
        if (System.Text.Ascii.IsValid(absolute) && absolute.Length > authority.Length && absolute.StartsWith(authority, StringComparison.Ordinal)
            && absolute[authority.Length] == '/')
            origin = authority;
    }

    public Uri? Uri { get; }

    /// <summary>The absolute http(s) URL without its fragment, or null for an empty, data:, non-http or unparsable URL.</summary>
    public string? Resolve(string raw)
    {
        var trimmed = raw.Trim();
        if (trimmed.Length == 0 || trimmed.StartsWith("data:", StringComparison.OrdinalIgnoreCase)) return null;
        if (origin is not null && trimmed[0] == '/' && (trimmed.Length == 1 || trimmed[1] != '/') && IsPlainPath(trimmed))
            return string.Concat(origin, trimmed);
        if (IsPlainAbsolute(trimmed)) return trimmed;
        System.Uri? uri;
        if (Uri is null) System.Uri.TryCreate(trimmed, UriKind.Absolute, out uri);
        else System.Uri.TryCreate(Uri, trimmed, out uri);
        if (uri is null || (uri.Scheme != System.Uri.UriSchemeHttp && uri.Scheme != System.Uri.UriSchemeHttps)) return null;
        return uri.Fragment.Length > 0 ? uri.GetLeftPart(UriPartial.Query) : uri.AbsoluteUri;
    }

    /// <summary>
    /// A path (and query) that Uri leaves as it is: only unreserved characters, '/', '?', '=' and '&amp;'
    /// (nothing to escape or unescape, no fragment), no empty segment and no segment starting with a dot
    /// (so no dot segments to remove). Rejecting a little more than needed only costs the slow path.
    /// </summary>
    private static bool IsPlainPath(ReadOnlySpan<char> path)
    {
        if (path.ContainsAnyExcept(PlainPathCharacters)) return false;
        return !path.Contains("/.", StringComparison.Ordinal) && !path.Contains("//", StringComparison.Ordinal);
    }

    private static readonly System.Buffers.SearchValues<char> PlainPathCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/?=&");

    /// <summary>
    /// `http://` or `https://`, a lower-case DNS name (no port, user or IP address, which Uri may rewrite or reject) and
    /// a plain path: Uri's absolute form of such a URL is the URL itself.
    /// </summary>
    private static bool IsPlainAbsolute(string url)
    {
        int hostStart;
        if (url.StartsWith("http://", StringComparison.Ordinal)) hostStart = 7;
        else if (url.StartsWith("https://", StringComparison.Ordinal)) hostStart = 8;
        else return false;
        var slash = url.IndexOf('/', hostStart);
        if (slash < 0) return false;
        var host = url.AsSpan(hostStart, slash - hostStart);
        if (host.Length is 0 or > 253) return false;
        var labelStart = 0;
        for (var i = 0; i <= host.Length; i++)
        {
            if (i < host.Length && host[i] != '.')
            {
                if (!(char.IsAsciiLetterLower(host[i]) || char.IsAsciiDigit(host[i]) || host[i] == '-')) return false;
                continue;
            }
            // Labels as DNS spells them (RFC 1123): letters, digits and inner hyphens, 1 to 63 characters.
            if (i - labelStart is 0 or > 63 || host[labelStart] == '-' || host[i - 1] == '-') return false;
            // A last label that starts with a digit may be part of an IPv4 address, which Uri normalises.
            if (i == host.Length && !char.IsAsciiLetterLower(host[labelStart])) return false;
            labelStart = i + 1;
        }
        return IsPlainPath(url.AsSpan(slash));
    }
}
