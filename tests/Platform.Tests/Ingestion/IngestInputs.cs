using System.Text;
using System.Text.Json;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;

namespace Platform.Tests.Ingestion;

/// <summary>
/// Generated WARC inputs whose pairs share alt texts and images across files, so the job-wide
/// frequency filters (and the join with images found in other files) decide differently from any
/// one file alone. Pages also share three-sentence passages within and across files, and some pages are
/// little more than a passage, so the run-wide span dedupe shortens and rejects pages no file alone would.
/// </summary>
internal static class IngestInputs
{
    private static readonly string[] Words = ["harbour", "river", "mountain", "village", "market", "bridge", "garden", "station",
        "museum", "festival", "morning", "evening", "light", "stone", "water", "people", "street", "history", "season", "old",
        "quiet", "busy", "green", "golden", "walk", "visit", "painted", "carried", "followed", "under", "beside", "toward"];

    public static string[] Write(string directory, int files, int pagesPerFile, int seed)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(seed);
        string Phrase(int words) => string.Join(' ', Enumerable.Range(0, words).Select(_ => Words[random.Next(Words.Length)]));
        var sharedAlts = Enumerable.Range(0, 25).Select(i => $"A {Phrase(4)} view number {i}").ToArray();
        var sharedImages = Enumerable.Range(0, 40).Select(i => $"http://cdn.example/shared/{i}.jpg").ToArray();
        var paths = new string[files];
        var unique = 0;
        var ownImages = new List<string>();
        // A random of their own, so the pairs come out as they did before passages were added.
        var passageRandom = new Random(seed + 1);
        var passages = Enumerable.Range(0, 12).Select(i => string.Join(' ', Enumerable.Range(0, 3).Select(k =>
            $"{char.ToUpperInvariant(Words[passageRandom.Next(Words.Length)][0])}{string.Join(' ', Enumerable.Range(0, 8).Select(_ => Words[passageRandom.Next(Words.Length)]))} passage {i} part {k}."))).ToArray();
        for (var f = 0; f < files; f++)
        {
            paths[f] = Path.Combine(directory, $"input-{f:D2}.warc.gz");
            using var file = File.Create(paths[f]);
            using var writer = new WarcWriter(file);
            writer.WriteWarcInfo(Path.GetFileName(paths[f]), [new("software", "platform tests")]);
            for (var p = 0; p < pagesPerFile; p++)
            {
                var html = new StringBuilder("<!DOCTYPE html><html lang=\"en\"><head><title>")
                    .Append(Phrase(5)).Append("</title></head><body>");
                var text = new StringBuilder();
                for (var paragraph = 0; paragraph < 6; paragraph++)
                {
                    text.Append("<p>");
                    for (var s = 0; s < 4; s++) text.Append(char.ToUpperInvariant(Words[random.Next(Words.Length)][0])).Append(Phrase(9 + random.Next(8))).Append(" number ").Append(unique++).Append(". ");
                    text.Append("</p>");
                }
                var passage = $"<p>{passages[passageRandom.Next(passages.Length)]}</p>";
                switch (passageRandom.Next(10))
                {
                    case 0:
                        // Five sentences: a passage seen before leaves two, too few to keep the page.
                        html.Append(passage).Append($"<p>The walk of page {f} {p} ended here. Nobody followed the walk of page {f} {p}.</p>");
                        break;
                    case < 4:
                        html.Append(passage).Append(text);
                        break;
                    default:
                        html.Append(text);
                        break;
                }
                for (int i = 0, images = 3 + random.Next(5); i < images; i++)
                {
                    var image = random.Next(10) < 6 ? sharedImages[random.Next(sharedImages.Length)] : $"http://cdn.example/own/{unique++}.jpg";
                    if (image.Contains("/own/", StringComparison.Ordinal)) ownImages.Add(image);
                    var alt = random.Next(10) < 5 ? sharedAlts[random.Next(sharedAlts.Length)] : $"The {Phrase(5)} photo {unique++}";
                    if (random.Next(8) == 0) alt = alt.ToUpperInvariant();
                    html.Append("<img src=\"").Append(image).Append("\" alt=\"").Append(alt).Append("\">");
                }
                html.Append("</body></html>");
                var uri = $"http://site{f}.example/page/{p}.html";
                writer.WriteResponse(uri, 200, [new("Content-Type", "text/html; charset=utf-8")], Encoding.UTF8.GetBytes(html.ToString()));
                if (p % 15 == 0)
                {
                    // An image referenced by pages of this or earlier files; some opt out of AI use.
                    var jpeg = new byte[512];
                    random.NextBytes(jpeg);
                    jpeg[0] = 0xFF; jpeg[1] = 0xD8; jpeg[2] = 0xFF;
                    List<KeyValuePair<string, string>> headers = [new("Content-Type", "image/jpeg")];
                    if (random.Next(3) == 0) headers.Add(new("X-Robots-Tag", "noai"));
                    var dumped = random.Next(3) == 0 || ownImages.Count == 0 ? sharedImages[random.Next(sharedImages.Length)] : ownImages[random.Next(ownImages.Count)];
                    writer.WriteResponse(dumped, 200, headers, jpeg);
                }
            }
        }
        return paths;
    }

    /// <summary>An uncompressed copy of a per-record gzip WARC (its members inflated one after another), beside it as `.warc`.</summary>
    public static string Uncompressed(string gzipped)
    {
        var path = Path.ChangeExtension(gzipped, null);
        using var input = new System.IO.Compression.GZipStream(File.OpenRead(gzipped), System.IO.Compression.CompressionMode.Decompress);
        using var output = File.Create(path);
        input.CopyTo(output);
        return path;
    }

    /// <summary>A CSV URL list with a header, quoted captions (some holding commas, quotes and line breaks) and some rows that are no URL.</summary>
    public static string CsvUrlList(string path, int rows, int seed)
    {
        var random = new Random(seed);
        using var writer = new StreamWriter(path) { NewLine = "\r\n" };
        writer.WriteLine("id,url,caption");
        for (var i = 0; i < rows; i++)
        {
            var url = random.Next(15) == 0 ? "not a url" : $"http://cdn.example/list/{random.Next(rows)}.jpg";
            var caption = $"A {Words[random.Next(Words.Length)]} \"{Words[random.Next(Words.Length)]}\", seen {i}" + (random.Next(5) == 0 ? "\nby the " + Words[random.Next(Words.Length)] : "");
            writer.WriteLine($"{i},{url},\"{caption.Replace("\"", "\"\"")}\"");
        }
        return path;
    }

    /// <summary>Whether every input was split into several work units, each shown with its byte range.</summary>
    public static void AssertEachInputSplit(IngestJobStatus status, IReadOnlyList<string> inputs)
    {
        foreach (var input in inputs)
        {
            var parts = status.Units.Where(u => u.Input.StartsWith(input + " [", StringComparison.Ordinal)).ToList();
            Assert.True(parts.Count >= 2, $"{input} should be split into several units: {string.Join(", ", status.Units.Select(u => u.Input))}");
        }
        Assert.All(status.Units, u => Assert.Matches(@" \[\d+, \d+\)$", u.Input));
    }

    public static readonly string[] OutputFiles = ["candidates.jsonl", "rejected.jsonl", "images.jsonl", "text.jsonl"];

    public static void AssertSameOutputs(string expectedDirectory, string actualDirectory)
    {
        foreach (var name in OutputFiles)
        {
            var expected = File.ReadAllLines(Path.Combine(expectedDirectory, name));
            var actual = File.ReadAllLines(Path.Combine(actualDirectory, name));
            Assert.True(expected.SequenceEqual(actual), $"{name} differs: {expected.Length} lines expected, {actual.Length} written; first difference at line " +
                Enumerable.Range(0, Math.Min(expected.Length, actual.Length)).FirstOrDefault(i => expected[i] != actual[i], Math.Min(expected.Length, actual.Length)));
        }
        Assert.Equal(StatsLines(expectedDirectory), StatsLines(actualDirectory));
    }

    /// <summary>The funnel as sorted lines: stage order may differ between runs, the counts may not.</summary>
    public static List<string> StatsLines(string directory) => FunnelLines(Path.Combine(directory, "stats.json"));

    /// <summary>A funnel file (stats.json, funnel-{job}.json) as sorted lines.</summary>
    public static List<string> FunnelLines(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.GetProperty("stages").EnumerateArray().SelectMany(stage =>
        {
            var name = stage.GetProperty("stage").GetString();
            return new[] { $"{name} in={stage.GetProperty("in")} passed={stage.GetProperty("passed")}" }
                .Concat(stage.GetProperty("rejected").EnumerateObject().Select(r => $"{name} rejected {r.Name}={r.Value}"))
                .Concat(stage.GetProperty("notes").EnumerateObject().Select(n => $"{name} note {n.Name}={n.Value}"));
        }).Order(StringComparer.Ordinal).ToList();
    }

    public static long Rejections(string directory, string reason) =>
        File.ReadLines(Path.Combine(directory, "rejected.jsonl")).Count(line => line.Contains($"\"reason\":\"{reason}\"", StringComparison.Ordinal));

    public static Task<ExtractSummary> RunSingleProcessAsync(IReadOnlyList<string> inputs, string output, IngestJobSettings settings) =>
        ExtractCommandRunner.RunAsync(inputs, output, IngestJobOptions.Extraction(settings),
            languageDetector: IngestJobOptions.LanguageDetector(settings), cancellationToken: TestContext.Current.CancellationToken);
}
