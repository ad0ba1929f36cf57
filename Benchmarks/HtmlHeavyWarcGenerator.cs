using System.Text;
using Platform.Ingestion.Warc;

namespace Platform.Benchmarks;

/// <summary>
/// The input of `platform bench extract --generate-mb`, and of the extraction library's tests, which compile this file
/// in rather than reference the benchmarks (and with them Orleans and TorchSharp).
/// </summary>
public static class HtmlHeavyWarcGenerator
{
    /// <summary>
    /// Writes an HTML-heavy per-record-gzip WARC of about <paramref name="targetBytes"/> (compressed):
    /// pages of realistic markup (head, scripts, styles, navigation, paragraphs, images with srcset
    /// and lazy attributes), request and metadata records, and some image responses.
    /// </summary>
    public static void Write(string path, long targetBytes, int seed = 1)
    {
        var random = new Random(seed);
        string[] words = ["harbour", "river", "mountain", "village", "market", "bridge", "garden", "station", "museum", "festival",
            "morning", "evening", "light", "stone", "water", "people", "street", "history", "season", "photograph", "old", "small",
            "quiet", "busy", "green", "golden", "walk", "visit", "build", "paint", "carry", "follow", "the", "a", "of", "in", "on", "with"];
        string Sentence(int n)
        {
            var sb = new StringBuilder();
            for (var i = 0; i < n; i++)
            {
                var word = words[random.Next(words.Length)];
                sb.Append(i == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : " " + word);
            }
            return sb.Append('.').ToString();
        }
        using var file = File.Create(path);
        using var writer = new WarcWriter(file, gzipPerRecord: true, leaveOpen: true);
        writer.WriteWarcInfo(Path.GetFileName(path), [new("software", "platform bench generator")]);
        var page = 0;
        var image = new byte[8 * 1024];
        while (file.Position < targetBytes)
        {
            var html = new StringBuilder();
            html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(Sentence(6)).Append("</title>");
            html.Append("<meta name=\"viewport\" content=\"width=device-width\"><link rel=\"stylesheet\" href=\"/css/site.css\">");
            html.Append("<style>.nav{display:flex}.card{margin:0 auto;padding:12px}</style>");
            html.Append("<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());</script></head><body>");
            html.Append("<nav class=\"nav\"><ul>");
            for (var i = 0; i < 15; i++) html.Append("<li class=\"nav-item\"><a href=\"/section/").Append(i).Append("\" class=\"nav-link\">").Append(words[random.Next(words.Length)]).Append("</a></li>");
            html.Append("</ul></nav><main><article>");
            for (var p = 0; p < 25; p++)
            {
                html.Append("<div class=\"card\"><div class=\"card-body\"><p class=\"text\">");
                for (var s = 0; s < 4; s++) html.Append(Sentence(8 + random.Next(10))).Append(' ');
                html.Append("<a href=\"/story/").Append(random.Next()).Append("\">").Append(Sentence(3)).Append("</a></p>");
                if (p % 3 == 0)
                {
                    var id = random.Next(200_000);
                    html.Append("<figure><img src=\"/img/").Append(id).Append("-320.jpg\" srcset=\"/img/").Append(id).Append("-320.jpg 320w, /img/").Append(id)
                        .Append("-1024.jpg 1024w\" alt=\"").Append(Sentence(4 + random.Next(8)).TrimEnd('.')).Append("\" width=\"1024\" height=\"683\" loading=\"lazy\">")
                        .Append("<figcaption>").Append(Sentence(6)).Append("</figcaption></figure>");
                }
                if (p % 7 == 0) html.Append("<img class=\"lazy\" src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\" data-src=\"/img/lazy-").Append(random.Next()).Append(".jpg\" alt=\"").Append(Sentence(5).TrimEnd('.')).Append("\">");
                html.Append("</div></div>");
            }
            html.Append("</article></main><footer><p>&copy; 2024 Example &amp; Co. All rights reserved.</p><img src=\"/img/logo.png\" alt=\"logo\"></footer>");
            html.Append("<script src=\"/js/app.js\"></script></body></html>");
            var uri = $"http://bench{page % 97}.example/page/{page}.html";
            var request = writer.WriteRequest(uri);
            var response = writer.WriteResponse(uri, 200, [new("Content-Type", "text/html; charset=utf-8"), new("Server", "bench")], Encoding.UTF8.GetBytes(html.ToString()), request);
            writer.WriteMetadata(uri, response, [new("fetchTimeMs", random.Next(1000).ToString(System.Globalization.CultureInfo.InvariantCulture))]);
            if (page % 10 == 0)
            {
                random.NextBytes(image);
                image[0] = 0xFF; image[1] = 0xD8; image[2] = 0xFF;
                writer.WriteResponse($"http://bench{page % 97}.example/img/{page}.jpg", 200, [new("Content-Type", "image/jpeg")], image);
            }
            page++;
        }
    }
}
