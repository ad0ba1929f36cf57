namespace Platform.Ingestion.Html;

/// <summary>Opt-out directives a page or image response can carry (robots meta tag, X-Robots-Tag).</summary>
[Flags]
public enum RobotsDirectives
{
    None = 0,
    NoAi = 1,
    NoImageAi = 2,
    NoIndex = 4,
    NoImageIndex = 8,
    /// <summary>Links on the page must not be followed (nofollow, or none).</summary>
    NoFollow = 16,
}

public static class Robots
{
    /// <summary>Parses a robots meta content or X-Robots-Tag value ("noai, noimageai", "googlebot: noindex").</summary>
    public static RobotsDirectives Parse(string? value)
    {
        if (string.IsNullOrEmpty(value)) return RobotsDirectives.None;
        var result = RobotsDirectives.None;
        foreach (var raw in value.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries))
        {
            var token = raw.Contains(':') ? raw[(raw.LastIndexOf(':') + 1)..] : raw;
            result |= token.Trim().ToLowerInvariant() switch
            {
                "noai" => RobotsDirectives.NoAi,
                "noimageai" => RobotsDirectives.NoImageAi,
                "noindex" => RobotsDirectives.NoIndex,
                "none" => RobotsDirectives.NoIndex | RobotsDirectives.NoFollow,
                "nofollow" => RobotsDirectives.NoFollow,
                "noimageindex" => RobotsDirectives.NoImageIndex,
                _ => RobotsDirectives.None,
            };
        }
        return result;
    }
}

/// <summary>One image reference found on a page.</summary>
/// <param name="AltText">Entities decoded, white space collapsed; null when the tag has no alt attribute.</param>
/// <param name="Origin">Which markup supplied the URL: src, srcset, data-src, data-srcset, picture-source.</param>
public sealed record ImageReference(string ImageUrl, string? AltText, int? Width, int? Height, string Origin);

/// <summary>What the extractor learned from one HTML page.</summary>
public sealed class HtmlPage
{
    public required string PageUrl { get; init; }
    public string? Title { get; set; }
    /// <summary>Primary language subtag in lower case (`en`), from `lang`, Content-Language, or detection; null when unknown.</summary>
    public string? Language { get; set; }
    public RobotsDirectives Robots { get; set; }
    public List<ImageReference> Images { get; } = [];
    /// <summary>Absolute http(s) targets of <c>&lt;a href&gt;</c> without fragments, first occurrence order, <c>rel=nofollow</c> left out; empty unless links were requested.</summary>
    public List<string> Links { get; } = [];
    private string? text;

    /// <summary>
    /// Visible text with block elements as line breaks, in the extractor's buffer: valid until it
    /// extracts the next page. Empty unless text was requested.
    /// </summary>
    public ReadOnlyMemory<char> TextBuffer { get; set; }

    /// <summary>The visible text as a string (made on first use); null unless text was requested.</summary>
    public string? Text => text ??= TextBuffer.IsEmpty ? null : new string(TextBuffer.Span);
    /// <summary>The charset the bytes were decoded with.</summary>
    public string Charset { get; set; } = "utf-8";
    /// <summary>Image references that could not become an absolute http(s) URL.</summary>
    public int UnusableImageUrls { get; set; }
}
