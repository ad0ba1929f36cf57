using System.Text;
using Platform.Ingestion.Warc;
using SkiaSharp;

namespace Platform.Ingestion.Tests.Runs;

/// <summary>Images that pass the default image checks (256x256, well over 5 KB) and tell each other apart by colour.</summary>
internal static class RunSamples
{
    public static byte[] NoisyImage(SKColor colour, int seed, SKEncodedImageFormat format = SKEncodedImageFormat.Jpeg)
    {
        var random = new Random(seed);
        using var bitmap = new SKBitmap(new SKImageInfo(256, 256, SKColorType.Rgba8888, SKAlphaType.Premul));
        for (var y = 0; y < 256; y++)
            for (var x = 0; x < 256; x++)
                bitmap.SetPixel(x, y, new SKColor(Jitter(colour.Red, random), Jitter(colour.Green, random), Jitter(colour.Blue, random)));
        using var data = bitmap.Encode(format, 90);
        return data.ToArray();
    }

    private static byte Jitter(byte value, Random random) => (byte)Math.Clamp(value + random.Next(-40, 41), 0, 255);

    public static void WriteImage(WarcWriter warc, string url, byte[] image, string mediaType, string? robotsTag = null)
    {
        var headers = new List<KeyValuePair<string, string>> { new("Content-Type", mediaType), new("Content-Length", image.Length.ToString()) };
        if (robotsTag is not null) headers.Add(new("X-Robots-Tag", robotsTag));
        warc.WriteResponse(url, 200, headers, image);
    }

    public static void WritePage(WarcWriter warc, string url, string html) =>
        warc.WriteResponse(url, 200, [new("Content-Type", "text/html; charset=utf-8")], Encoding.UTF8.GetBytes(html));

    /// <summary>Enough prose that the C4 rules keep the page's text.</summary>
    public const string Prose =
        "<p>The harbour was quiet this morning and the fishing boats had already left before sunrise.</p>" +
        "<p>We walked along the old stone pier and watched the gulls circling above the water.</p>" +
        "<p>Later in the afternoon the wind picked up and the first clouds rolled in from the west.</p>" +
        "<p>By evening the whole town had gathered at the square to listen to the band play.</p>" +
        "<p>Nobody wanted to go home before the last song was over and the lanterns were lit.</p>" +
        "<p>The next day started with rain, so we stayed inside and read by the window.</p>";
}
