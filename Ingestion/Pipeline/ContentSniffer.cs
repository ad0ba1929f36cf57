namespace Platform.Ingestion.Pipeline;

public enum ContentKind { Html, Image, Other }

/// <summary>
/// Decides what a body really is. Image magic numbers win over the label (servers mislabel images
/// as text/html); an unlabelled or generic body that starts like markup is HTML.
/// </summary>
public static class ContentSniffer
{
    public static ContentKind Classify(string mediaType, ReadOnlySpan<byte> body)
    {
        if (IsImageMagic(body)) return ContentKind.Image;
        if (mediaType is "text/html" or "application/xhtml+xml") return ContentKind.Html;
        // Formats without a magic number checked here (tiff, ico) are trusted by label unless they are markup.
        if (mediaType.StartsWith("image/", StringComparison.Ordinal))
            return mediaType == "image/svg+xml" || LooksLikeHtml(body) ? ContentKind.Other : ContentKind.Image;
        if (mediaType is "" or "application/octet-stream" or "text/plain" or "unknown/unknown") return LooksLikeHtml(body) ? ContentKind.Html : ContentKind.Other;
        return ContentKind.Other;
    }

    public static bool IsImageMagic(ReadOnlySpan<byte> b) =>
        b.StartsWith([(byte)0xFF, (byte)0xD8, (byte)0xFF])
        || b.StartsWith([(byte)0x89, (byte)'P', (byte)'N', (byte)'G'])
        || b.StartsWith("GIF8"u8)
        || (b.Length >= 12 && b.StartsWith("RIFF"u8) && b.Slice(8, 4).SequenceEqual("WEBP"u8))
        || (b.Length >= 12 && b.Slice(4, 4).SequenceEqual("ftyp"u8) && (b.Slice(8, 4).SequenceEqual("avif"u8) || b.Slice(8, 4).SequenceEqual("heic"u8)))
        || b.StartsWith("BM"u8) && b.Length > 14 && b[14] is 12 or 40 or 108 or 124;

    private static bool LooksLikeHtml(ReadOnlySpan<byte> body)
    {
        var head = body[..Math.Min(body.Length, 1024)];
        if (head.StartsWith([(byte)0xEF, (byte)0xBB, (byte)0xBF])) head = head[3..];
        head = head.TrimStart(" \t\r\n"u8);
        return Html.CharsetDecoder.IndexOfIgnoreCase(head, "<!doctype html"u8) == 0
            || Html.CharsetDecoder.IndexOfIgnoreCase(head, "<html"u8) >= 0
            || Html.CharsetDecoder.IndexOfIgnoreCase(head, "<head"u8) >= 0;
    }
}
