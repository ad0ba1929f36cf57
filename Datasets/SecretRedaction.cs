using System.Text.RegularExpressions;

namespace Platform.Datasets;

/// <summary>
/// The query of a blob URL is where its SAS token travels, and a SAS token is a password: whatever is shown or kept for
/// people (statuses, error messages, logs, job arguments, printed output) names the blob without it. Only the code that
/// opens the blob sees the whole URL.
/// </summary>
public static partial class SecretRedaction
{
    public const string RedactedQuery = "?REDACTED";

    /// <summary>An http(s) URL without its query (replaced by <see cref="RedactedQuery"/>); anything else unchanged.</summary>
    public static string RedactUrl(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        int query = location.IndexOf('?', StringComparison.Ordinal);
        if (query < 0 || !IsHttpUrl(location)) return location;
        int fragment = location.IndexOf('#', query);
        return string.Concat(location.AsSpan(0, query), RedactedQuery, fragment < 0 ? "" : location[fragment..]);
    }

    /// <summary>Free text (an error message, say) with the query of every http(s) URL in it redacted.</summary>
    public static string RedactUrlsIn(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Contains('?', StringComparison.Ordinal) ? UrlWithQuery().Replace(text, m => m.Groups["url"].Value + RedactedQuery) : text;
    }

    /// <summary><see cref="RedactUrlsIn"/> of a text that may be missing.</summary>
    public static string? RedactUrlsInOptional(string? text) => text is null ? null : RedactUrlsIn(text);

    private static bool IsHttpUrl(string location) =>
        location.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    // The query runs to the first character that cannot be in a URL as messages quote them (space, quotes, angle brackets).
    [GeneratedRegex("""(?<url>https?://[^\s'"<>?]+)\?[^\s'"<>#]*""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking)]
    private static partial Regex UrlWithQuery();
}
