using System.Text;
using Platform.Ingestion.Warc;
using SkiaSharp;

namespace Platform.Benchmarks;

/// <summary>
/// Web dumps for whole-run tests and benchmarks: pages whose images are all in the dump (so no run touches
/// the network), real JPEGs that pass the default image checks, and every kind of duplicate dedupe handles:
/// an image URL used by several pages, the same bytes under several URLs, and re-encoded near copies.
/// Images are dumped in the file whose page first refers to them, so a page's image can also sit in
/// another file. Deterministic for a seed.
/// </summary>
public static class ImageDumpGenerator
{
    internal static readonly string[] Words = ["harbour", "river", "mountain", "village", "market", "bridge", "garden", "station",
        "museum", "festival", "morning", "evening", "light", "stone", "water", "people", "street", "history", "season", "old",
        "quiet", "busy", "green", "golden", "walk", "visit", "painted", "carried", "followed", "under", "beside", "toward"];

    /// <param name="pictures">Distinct pictures; each gets one URL, and some an exact copy and a near copy under URLs of their own.</param>
    public static string[] Write(string directory, int files, int pagesPerFile, int pictures, int seed)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(seed);
        string Phrase(int words) => string.Join(' ', Enumerable.Range(0, words).Select(_ => Words[random.Next(Words.Length)]));
        var images = new List<(string Url, byte[] Jpeg)>();
        for (var p = 0; p < pictures; p++)
        {
            using var picture = Picture(random);
            var original = Encode(picture, 90);
            images.Add(($"http://img{p % 7}.example/pictures/{p}.jpg", original));
            if (random.Next(10) < 3) images.Add(($"http://mirror.example/copies/{p}.jpg", original));
            if (random.Next(10) < 3) images.Add(($"http://img{p % 7}.example/thumbs/{p}.jpg", Encode(picture, 70)));
        }

        var dumped = new HashSet<string>(StringComparer.Ordinal);
        var paths = new string[files];
        var unique = 0;
        for (var f = 0; f < files; f++)
        {
            paths[f] = Path.Combine(directory, $"dump-{f:D2}.warc.gz");
            using var file = File.Create(paths[f]);
            using var writer = new WarcWriter(file);
            writer.WriteWarcInfo(Path.GetFileName(paths[f]), [new("software", "platform image dump generator")]);
            var firstSeenHere = new List<(string Url, byte[] Jpeg)>();
            for (var page = 0; page < pagesPerFile; page++)
            {
                var html = new StringBuilder("<!DOCTYPE html><html lang=\"en\"><head><title>").Append(Phrase(5)).Append("</title></head><body>");
                for (var paragraph = 0; paragraph < 5; paragraph++)
                {
                    html.Append("<p>");
                    for (var s = 0; s < 4; s++)
                        html.Append(char.ToUpperInvariant(Words[random.Next(Words.Length)][0])).Append(Phrase(9 + random.Next(8))).Append(" number ").Append(unique++).Append(". ");
                    html.Append("</p>");
                }
                for (int i = 0, count = 2 + random.Next(4); i < count; i++)
                {
                    var image = images[random.Next(images.Count)];
                    if (dumped.Add(image.Url)) firstSeenHere.Add(image);
                    html.Append("<img src=\"").Append(image.Url).Append("\" alt=\"The ").Append(Phrase(5)).Append(" photo ").Append(unique++).Append("\">");
                }
                html.Append("</body></html>");
                writer.WriteResponse($"http://site{f}.example/page/{page}.html", 200, [new("Content-Type", "text/html; charset=utf-8")],
                    Encoding.UTF8.GetBytes(html.ToString()));
            }
            foreach (var (url, jpeg) in firstSeenHere)
                writer.WriteResponse(url, 200, [new("Content-Type", "image/jpeg"), new("Content-Length", jpeg.Length.ToString())], jpeg);
        }
        return paths;
    }

    /// <summary>A few overlapping discs on a background, with pixel noise: distinct shapes keep perceptual hashes apart, the noise keeps JPEGs large.</summary>
    internal static SKBitmap Picture(Random random)
    {
        const int size = 256;
        var background = RandomColour(random);
        var discs = Enumerable.Range(0, 4).Select(_ => (X: random.Next(size), Y: random.Next(size), R: 30 + random.Next(90), Colour: RandomColour(random))).ToArray();
        var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
            {
                var colour = background;
                foreach (var disc in discs)
                    if ((x - disc.X) * (x - disc.X) + (y - disc.Y) * (y - disc.Y) <= disc.R * disc.R) colour = disc.Colour;
                bitmap.SetPixel(x, y, new SKColor(Jitter(colour.Red, random), Jitter(colour.Green, random), Jitter(colour.Blue, random)));
            }
        return bitmap;
    }

    private static SKColor RandomColour(Random random) => new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));

    private static byte Jitter(byte value, Random random) => (byte)Math.Clamp(value + random.Next(-25, 26), 0, 255);

    internal static byte[] Encode(SKBitmap bitmap, int quality)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality);
        return data.ToArray();
    }
}
