using Platform.Ingestion.Text;
using System.IO.Compression;
using System.Text;
using Parquet;
using Parquet.Schema;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Sources;
using Platform.Ingestion.Warc;
using Platform.Ingestion.Stages;

namespace Platform.Ingestion.Tests;

public class ExtractionRunTests
{
    private const string Article = """
        <p>The river runs through the old town and past the mill.</p>
        <p>Visitors often stop at the bridge to watch the boats.</p>
        <p>In spring the banks are covered with yellow flowers.</p>
        <p>Local bakers sell bread from small stalls near the water.</p>
        <p>The museum on the square tells the history of the town.</p>
        """;

    private static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0, 0, 13];

    private static byte[] Gzip(string s)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, true)) gz.Write(Encoding.UTF8.GetBytes(s));
        return ms.ToArray();
    }

    private static byte[] Dump()
    {
        var output = new MemoryStream();
        using var writer = new WarcWriter(output, leaveOpen: true);
        writer.WriteWarcInfo("dump.warc.gz", [new("software", "tests")]);
        writer.WriteRequest("http://site.test/a.html");
        writer.WriteResponse("http://site.test/a.html", 200,
            [new("Content-Type", "text/html; charset=utf-8"), new("Content-Encoding", "gzip")],
            Gzip($"<html lang=en><title>Town</title><body>{Article}<img src='/img/mill.png' alt='The old mill by the river' width=800 height=600>" +
                 "<img src='/img/spacer.gif' alt='spacer'><img src='/img/opted.png' alt='A picture that opted out'></body></html>"));
        writer.WriteResponse("http://site.test/img/mill.png", 200, [new("Content-Type", "image/png")], Png);
        writer.WriteResponse("http://site.test/img/opted.png", 200, [new("Content-Type", "image/png"), new("X-Robots-Tag", "noai")], Png);
        writer.WriteResponse("http://site.test/private.html", 200, [new("Content-Type", "text/html"), new("X-Robots-Tag", "noimageai")],
            Encoding.UTF8.GetBytes("<img src='p.jpg' alt='A private family photo here'>"));
        writer.WriteResponse("http://site.test/fr.html", 200, [new("Content-Type", "text/html"), new("Content-Language", "fr")],
            Encoding.UTF8.GetBytes("<img src='fr.jpg' alt='Une photo de la tour'>"));
        writer.WriteResponse("http://site.test/mislabelled", 200, [new("Content-Type", "text/html")], Png);
        writer.WriteResponse("http://site.test/gone", 404, [new("Content-Type", "text/html")], "<img src=x.jpg alt='never seen here at all'>"u8);
        writer.WriteResponse("http://site.test/moved", 301, [new("Location", "/a.html")], []);
        return output.ToArray();
    }

    [Fact]
    public void Extracts_filters_joins_images_and_counts_every_reason()
    {
        var sink = new CollectingSink();
        using var run = new ExtractionRun(new ExtractionOptions(), sink);
        run.AddWarc(new MemoryStream(Dump()), "dump.warc.gz", cancellationToken: TestContext.Current.CancellationToken);
        FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);

        var kept = Assert.Single(sink.Accepted);
        Assert.Equal(("http://site.test/a.html", "http://site.test/img/mill.png", "The old mill by the river", "en"), (kept.PageUrl, kept.ImageUrl, kept.AltText, kept.Language));
        Assert.True(kept.ImageInDump);
        Assert.Equal((800, 600), (kept.Width, kept.Height));
        Assert.Equal("Town", kept.PageTitle);

        var reasons = sink.Rejected.ToDictionary(r => r.Candidate.ImageUrl.Split('/')[^1], r => r.Reason);
        Assert.Equal("alt_too_few_words", reasons["spacer.gif"]);
        Assert.Equal("image_opt_out", reasons["opted.png"]);
        Assert.Equal("page_opt_out", reasons["p.jpg"]);
        Assert.Equal("language_not_allowed", reasons["fr.jpg"]);

        var stats = run.Stats;
        Assert.Equal(1, stats.Rejections(ExtractionRun.ResponsesStage, "http_status_4xx"));
        Assert.Equal(1, stats.Rejections(ExtractionRun.ResponsesStage, "http_redirect"));
        Assert.Equal(1, stats.Notes(ExtractionRun.ResponsesStage, "mislabelled_image"));
        Assert.Equal(3, run.Images.Count);
        Assert.Equal(5, stats.Stage(ExtractionRun.CandidatesStage).In);
        Assert.Equal(1, stats.Stage(ExtractionRun.FrequencyStage).Passed);
        Assert.Contains("\"rejected\"", stats.ToJson());

        var text = Assert.Single(sink.Texts);
        Assert.StartsWith("The river runs", text.Text);
    }

    [Fact]
    public void Pages_that_declare_no_language_get_one_from_the_detector_and_the_language_filter_applies()
    {
        var output = new MemoryStream();
        using (var writer = new WarcWriter(output, leaveOpen: true))
        {
            writer.WriteResponse("http://site.test/de.html", 200, [new("Content-Type", "text/html")],
                Encoding.UTF8.GetBytes("<p>Der Fluss fließt durch die Altstadt und an der Mühle vorbei, und die Besucher bleiben oft auf der Brücke stehen.</p>" +
                                       "<img src='de.jpg' alt='Die alte Mühle am Fluss'>"));
            writer.WriteResponse("http://site.test/en.html", 200, [new("Content-Type", "text/html")],
                Encoding.UTF8.GetBytes("<p>The river runs through the old town and past the mill, and visitors often stop at the bridge to watch the boats.</p>" +
                                       "<img src='en.jpg' alt='The old mill by the river'>"));
        }
        var sink = new CollectingSink();
        using var run = new ExtractionRun(new ExtractionOptions(), sink, languageDetector: LinguaLanguageDetector.Shared);
        run.AddWarc(new MemoryStream(output.ToArray()), "undeclared.warc", cancellationToken: TestContext.Current.CancellationToken);
        FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);

        var kept = Assert.Single(sink.Accepted);
        Assert.Equal(("http://site.test/en.jpg", "en"), (kept.ImageUrl, kept.Language));
        var rejected = Assert.Single(sink.Rejected);
        Assert.Equal(("http://site.test/de.jpg", "de", "language_not_allowed"), (rejected.Candidate.ImageUrl, rejected.Candidate.Language, rejected.Reason));
        Assert.Equal(2, run.Stats.Notes(ExtractionRun.PagesStage, "language_detected"));
    }

    [Fact]
    public void Frequency_filters_use_counts_from_the_whole_run()
    {
        var sink = new CollectingSink();
        var options = new ExtractionOptions { ExtractText = false, Frequency = new() { MaxImagesPerAltText = 2 } };
        using var run = new ExtractionRun(options, sink);
        for (var file = 0; file < 3; file++)
        {
            var output = new MemoryStream();
            using (var writer = new WarcWriter(output, leaveOpen: true))
                writer.WriteResponse($"http://site{file}.test/", 200, [new("Content-Type", "text/html")],
                    Encoding.UTF8.GetBytes($"<img src='{file}.jpg' alt='Click to see the gallery'><img src='u{file}.jpg' alt='A unique description number {file}'>"));
            run.AddWarc(new MemoryStream(output.ToArray()), $"file{file}", cancellationToken: TestContext.Current.CancellationToken);
        }
        FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);
        Assert.Equal(3, sink.Accepted.Count);
        Assert.All(sink.Accepted, c => Assert.StartsWith("A unique description", c.AltText));
        Assert.Equal(3, sink.Rejected.Count(r => r.Reason == "alt_shared_by_too_many_images"));
    }

    [Fact]
    public void Wat_records_yield_image_links_with_alt_text()
    {
        const string json = """
            {"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response","WARC-Target-URI":"http://wat.test/dir/page.html"},
             "Payload-Metadata":{"HTTP-Response-Metadata":{"Headers":{"Content-Type":"text/html"},
               "HTML-Metadata":{"Head":{"Title":"A  page","Metas":[{"name":"language","content":"en-US"}]},
                 "Links":[{"path":"A@/href","url":"/other.html","text":"other"},
                          {"path":"IMG@/src","url":"pics/cat.jpg","alt":"A grey cat asleep on a sofa"},
                          {"path":"IMG@/src","url":"//cdn.wat.test/dog.jpg","alt":"dog"},
                          {"path":"IMG@/src","url":"javascript:void(0)","alt":"nothing here to see"}]}}}}}
            """;
        var output = new MemoryStream();
        using (var writer = new WarcWriter(output, leaveOpen: true))
        {
            writer.WriteRecord("metadata", Encoding.UTF8.GetBytes(json), "application/json", "http://wat.test/dir/page.html");
            writer.WriteRecord("metadata", "{not json"u8, "application/json", "http://wat.test/broken");
        }
        var sink = new CollectingSink();
        using var run = new ExtractionRun(new ExtractionOptions(), sink);
        run.AddWarc(new MemoryStream(output.ToArray()), "x.wat.gz", cancellationToken: TestContext.Current.CancellationToken);
        FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);
        var cat = Assert.Single(sink.Accepted);
        Assert.Equal(("http://wat.test/dir/pics/cat.jpg", "A grey cat asleep on a sofa", "en", "A page", "wat"), (cat.ImageUrl, cat.AltText, cat.Language, cat.PageTitle, cat.Origin));
        Assert.Equal("http://cdn.wat.test/dog.jpg", Assert.Single(sink.Rejected).Candidate.ImageUrl);
        Assert.Equal(1, run.Stats.Rejections(ExtractionRun.CandidatesStage, "image_url_not_http"));
        Assert.Equal(1, run.Stats.Rejections(WatReader.Stage, "malformed_json"));
    }

    public static TheoryData<string> UrlListFormats => new() { "tsv", "csv", "jsonl", "parquet" };

    [Theory]
    [MemberData(nameof(UrlListFormats))]
    public async Task Url_lists_read_configurable_columns_in_every_format(string format)
    {
        var rows = new (string Url, string Caption)[]
        {
            ("http://list.test/1.jpg", "A boat on a calm lake"),
            ("http://list.test/2.jpg", "Two \"quoted\" words, and a comma"),
            ("not a url", "A caption for a broken url"),
        };
        var options = new UrlListOptions { UrlColumn = "image", CaptionColumn = "text" };
        var bytes = await Write(format, rows);
        var sink = new CollectingSink();
        using var run = new ExtractionRun(new ExtractionOptions { AltText = new() { MinWords = 1 } }, sink);
        await UrlListReader.AddAsync(run, new MemoryStream(bytes), UrlListOptions.FormatOf("x." + format)!.Value, "list", options, TestContext.Current.CancellationToken);
        FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);
        Assert.Equal(rows.Take(2).Select(r => (r.Url, r.Caption)), sink.Accepted.Select(c => (c.ImageUrl, c.AltText!)));
        Assert.Equal(1, run.Stats.Rejections(UrlListReader.Stage, "invalid_url"));
    }

    private static async Task<byte[]> Write(string format, (string Url, string Caption)[] rows)
    {
        switch (format)
        {
            case "tsv":
                return Encoding.UTF8.GetBytes("id\timage\ttext\n" + string.Concat(rows.Select((r, i) => $"{i}\t{r.Url}\t{r.Caption}\n")));
            case "csv":
                return Encoding.UTF8.GetBytes("image,id,text\r\n" + string.Concat(rows.Select((r, i) => $"{r.Url},{i},\"{r.Caption.Replace("\"", "\"\"")}\"\r\n")));
            case "jsonl":
                return Encoding.UTF8.GetBytes(string.Concat(rows.Select(r => System.Text.Json.JsonSerializer.Serialize(new { image = r.Url, text = r.Caption }) + "\n")));
            default:
                var urlField = new DataField<string>("image");
                var captionField = new DataField<string>("text");
                var ms = new MemoryStream();
                await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(urlField, captionField), ms, cancellationToken: TestContext.Current.CancellationToken))
                {
                    using var group = writer.CreateRowGroup();
                    await group.WriteAsync(urlField, rows.Select(r => r.Url).ToArray(), null);
                    await group.WriteAsync(captionField, rows.Select(r => r.Caption).ToArray(), null);
                }
                return ms.ToArray();
        }
    }
}
