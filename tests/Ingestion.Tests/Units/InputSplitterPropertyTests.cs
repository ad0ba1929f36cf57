using System.Text;
using System.Text.Json;
using CsCheck;
using Parquet;
using Parquet.Schema;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Sources;
using Platform.Ingestion.Text;
using Platform.Ingestion.Units;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Tests.Units;

/// <summary>
/// Whatever the unit size, the planned units of a file cover it exactly and, read one by one, give the whole
/// file's records or rows in order, none twice, named and placed as a run over the whole file names them.
/// </summary>
public sealed class InputSplitterPropertyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>What a run saw: pairs offered (kept and rejected), images found (with their offsets), text documents and the funnel.</summary>
    private sealed record Seen(List<string> Pairs, List<DumpedImage> Images, List<string> Texts, List<string> Funnel);

    private sealed class Recorder : IExtractionSink, IImageIndex
    {
        public List<string> Pairs { get; } = [];
        public List<DumpedImage> Images { get; } = [];
        public List<string> Texts { get; } = [];
        public void Accepted(PairCandidate candidate) => Pairs.Add("kept " + Json(candidate));
        public void Rejected(PairCandidate candidate, string reason) => Pairs.Add(reason + " " + Json(candidate));
        public void Text(TextDocument document) => Texts.Add(document.Url + " " + document.Text);
        public void Add(DumpedImage image) => Images.Add(image);
        public bool TryGet(string url, out DumpedImage? image) { image = null; return false; }
        public int Count => Images.Count;

        private static string Json(PairCandidate candidate)
        {
            var output = new MemoryStream();
            using (var json = new Utf8JsonWriter(output)) candidate.WriteJson(json);
            return Encoding.UTF8.GetString(output.ToArray());
        }
    }

    private static OpenInputRange InMemory(byte[] bytes) => (start, length, _) =>
        Task.FromResult<Stream>(length is { } n ? new MemoryStream(bytes, (int)start, (int)n, writable: false) : new MemoryStream(bytes, writable: false) { Position = start });

    /// <summary>Reads the units one after another into one run, shifting image offsets of each WARC unit by the decompressed bytes of the units before it.</summary>
    private static async Task<Seen> ReadAsync(IReadOnlyList<InputUnit> units, byte[] bytes)
    {
        var recorder = new Recorder();
        using var run = new ExtractionRun(new ExtractionOptions(), recorder, images: recorder);
        var decompressedBefore = 0L;
        foreach (var unit in units)
        {
            var imagesBefore = recorder.Images.Count;
            var extent = await InputUnitReader.AddAsync(run, unit, InMemory(bytes), cancellationToken: Ct);
            var shift = decompressedBefore - extent.DecompressedStart;
            for (var i = imagesBefore; i < recorder.Images.Count; i++) recorder.Images[i] = recorder.Images[i] with { Offset = recorder.Images[i].Offset + shift };
            decompressedBefore += extent.DecompressedBytes;
        }
        foreach (var pair in run.Spool.ReadAll()) recorder.Accepted(pair);
        return new Seen(recorder.Pairs, recorder.Images, recorder.Texts, FunnelLines(run.Stats));
    }

    private static List<string> FunnelLines(FunnelStats stats) =>
        [.. stats.StageNames.SelectMany(name =>
        {
            var stage = stats.Stage(name);
            return new[] { $"{name} in={stage.In} passed={stage.Passed}" }
                .Concat(stage.Rejected.Select(r => $"{name} rejected {r.Key}={r.Value}"))
                .Concat(stage.Notes.Select(n => $"{name} note {n.Key}={n.Value}"));
        }).Order(StringComparer.Ordinal)];

    private static void AssertCoversExactly(IReadOnlyList<InputUnit> units, long length)
    {
        if (units.Count == 1 && units[0].End is null) return;
        Assert.True(units.Count > 1, "a split file has several units");
        Assert.Equal(0, units[0].Start);
        Assert.Equal(length, units[^1].End);
        for (var i = 1; i < units.Count; i++)
        {
            Assert.Equal(units[i - 1].End, units[i].Start);
            Assert.True(units[i].Start < units[i].End, $"unit {i} is empty");
        }
    }

    /// <param name="sameFunnel">False where damage just before a cut may be counted under another reason (see <see cref="InputSplitter"/>).</param>
    private static async Task AssertUnitsReadAsTheWholeFileAsync(string name, byte[] bytes, long unitBytes, int? expectedUnitsAtLeast = null, bool sameFunnel = true)
    {
        var units = await InputSplitter.PlanAsync(name, new MemoryStream(bytes, writable: false), unitBytes, cancellationToken: Ct);
        AssertCoversExactly(units, bytes.Length);
        if (expectedUnitsAtLeast is { } least) Assert.True(units.Count >= least, $"{units.Count} units of {name} ({bytes.Length} bytes) at {unitBytes} bytes each");
        var whole = await ReadAsync([new InputUnit(name)], bytes);
        var split = await ReadAsync(units, bytes);
        Assert.True(whole.Pairs.Count + whole.Images.Count > 0, "the sample holds nothing to compare");
        Assert.Equal(whole.Pairs, split.Pairs);
        Assert.Equal(whole.Images, split.Images);
        Assert.Equal(whole.Texts, split.Texts);
        if (sameFunnel) Assert.Equal(whole.Funnel, split.Funnel);
    }

    public enum WarcForm { PerRecordGzip, WholeGzip, Uncompressed }

    /// <summary>A page with pictures first, then pages, images and now and then a page whose text holds a line that looks like a WARC record start.</summary>
    private static byte[] Warc(WarcForm form, int seed, int records)
    {
        var random = new Random(seed);
        var output = new MemoryStream();
        using (var writer = new WarcWriter(output, gzipPerRecord: form == WarcForm.PerRecordGzip, leaveOpen: true))
        {
            writer.WriteWarcInfo("sample.warc", [new("software", "splitter tests")]);
            for (var i = 0; i < records; i++)
            {
                if (i > 0 && random.Next(4) == 0)
                {
                    var jpeg = new byte[64 + random.Next(2000)];
                    random.NextBytes(jpeg);
                    (jpeg[0], jpeg[1], jpeg[2]) = (0xFF, 0xD8, 0xFF);
                    writer.WriteResponse($"http://img.example/{i}.jpg", 200, [new("Content-Type", "image/jpeg")], jpeg);
                    continue;
                }
                var body = new StringBuilder($"<html lang=en><head><title>Page {i}</title></head><body>");
                for (var p = random.Next(1, 6); p > 0; p--)
                    body.Append($"<p>Paragraph {p} of page {i} tells a story about item {random.Next(1000)} in plain words for the test reader.</p>");
                if (random.Next(3) == 0)
                    body.Append("<pre>\r\nWARC/1.1\r\nWARC-Type: response\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n</pre>");
                for (var k = random.Next(i == 0 ? 1 : 0, 4); k > 0; k--)
                    body.Append($"<img src=\"http://img.example/{random.Next(records)}.jpg\" alt=\"A picture of thing {random.Next(50)} on page {i}\">");
                body.Append("</body></html>");
                writer.WriteResponse($"http://site.example/{i}.html", 200, [new("Content-Type", "text/html; charset=utf-8")], Encoding.UTF8.GetBytes(body.ToString()));
            }
        }
        var bytes = output.ToArray();
        return form == WarcForm.WholeGzip ? WarcSamples.GzipWhole(bytes) : bytes;
    }

    [Theory]
    [InlineData(WarcForm.PerRecordGzip)]
    [InlineData(WarcForm.WholeGzip)]
    [InlineData(WarcForm.Uncompressed)]
    public void Warc_units_read_the_whole_files_records_in_order_none_twice(WarcForm form)
    {
        Gen.Select(Gen.Int[0, 1_000_000], Gen.Int[1, 40], Gen.Double[0.002, 1.2]).Sample((seed, records, fraction) =>
        {
            var bytes = Warc(form, seed, records);
            var unitBytes = Math.Max(1, (long)(bytes.Length * fraction));
            AssertUnitsReadAsTheWholeFileAsync("sample" + (form == WarcForm.Uncompressed ? ".warc" : ".warc.gz"), bytes, unitBytes).GetAwaiter().GetResult();
        }, iter: 40);
    }

    /// <summary>
    /// Damaged files lose or gain no record by being split. In an uncompressed file no cut follows damage, so even the funnel is the
    /// same; in a gzip file a record cut short just before a cut may be counted as truncated rather than as a wrong length.
    /// </summary>
    [Theory]
    [InlineData(WarcForm.PerRecordGzip)]
    [InlineData(WarcForm.Uncompressed)]
    public void Damaged_warc_units_read_the_whole_files_records(WarcForm form)
    {
        Gen.Select(Gen.Int[0, 1_000_000], Gen.Double[0, 1], Gen.Int[1, 16], Gen.Byte[1, 255]).Select(Gen.Double[0.01, 0.5]).Sample((damage, fraction) =>
        {
            var (seed, where, span, mask) = damage;
            var bytes = Warc(form, seed, 30);
            // In the second half, so the file stays recognisably gzip and its first page (with pictures) intact.
            var at = bytes.Length / 2 + (int)(where * (bytes.Length / 2 - 1));
            for (var i = at; i < Math.Min(bytes.Length, at + span); i++) bytes[i] ^= mask;
            AssertUnitsReadAsTheWholeFileAsync("damaged.warc" + (form == WarcForm.Uncompressed ? "" : ".gz"), bytes, Math.Max(1, (long)(bytes.Length * fraction)),
                sameFunnel: form == WarcForm.Uncompressed).GetAwaiter().GetResult();
        }, iter: 60);
    }

    [Fact]
    public async Task No_cut_follows_a_record_whose_length_runs_into_the_next_one()
    {
        // A whole-file reader finds the wrong length by the next record's bytes where the trailer should be; a unit ending
        // at the next record would find its data cut short instead and count the damage under another reason.
        var bytes = Warc(WarcForm.Uncompressed, seed: 21, records: 20);
        var text = Encoding.Latin1.GetString(bytes);
        var damaged = 0;
        for (var record = text.IndexOf("WARC/1.1\r\n", 1, StringComparison.Ordinal); record >= 0 && damaged < 3; record = text.IndexOf("WARC/1.1\r\n", record + 1, StringComparison.Ordinal))
        {
            var field = text.IndexOf("\r\nContent-Length: ", record, StringComparison.Ordinal) + "\r\nContent-Length: ".Length;
            var digits = text.IndexOf('\r', field) - field;
            var longer = (long.Parse(text.AsSpan(field, digits)) + 4).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (longer.Length != digits) continue;
            Encoding.ASCII.GetBytes(longer).CopyTo(bytes, field);
            damaged++;
        }
        Assert.Equal(3, damaged);
        await AssertUnitsReadAsTheWholeFileAsync("lengths.warc", bytes, unitBytes: 1, expectedUnitsAtLeast: 10);
    }

    [Theory]
    [InlineData(WarcForm.PerRecordGzip)]
    [InlineData(WarcForm.Uncompressed)]
    public async Task A_warc_file_of_many_records_is_split_at_about_the_unit_size(WarcForm form)
    {
        var bytes = Warc(form, seed: 7, records: 60);
        await AssertUnitsReadAsTheWholeFileAsync("many.warc" + (form == WarcForm.Uncompressed ? "" : ".gz"), bytes, bytes.Length / 6, expectedUnitsAtLeast: 5);
    }

    [Fact]
    public async Task A_whole_file_gzip_is_one_unit()
    {
        var bytes = Warc(WarcForm.WholeGzip, seed: 3, records: 60);
        var units = await InputSplitter.PlanAsync("whole.warc.gz", new MemoryStream(bytes), 1, cancellationToken: Ct);
        Assert.Equal([new InputUnit("whole.warc.gz")], units);
    }

    public enum ListForm { Tsv, Csv, JsonLines, Parquet }

    private static readonly string[] CaptionParts = ["a red boat", "comma, inside", "a \"quoted\" word", "line\nbreak", "crlf\r\nbreak", "café ☕", "  spaced  ", "", "x"];

    private static async Task<byte[]> UrlList(ListForm form, int seed, int rows)
    {
        var random = new Random(seed);
        var data = Enumerable.Range(0, rows).Select(i =>
        {
            var url = i > 0 && random.Next(12) == 0 ? $"not a url {i}" : $"http://img.example/{i}/{random.Next(100)}.jpg";
            var caption = string.Join(' ', Enumerable.Range(0, random.Next(1, 4)).Select(_ => CaptionParts[random.Next(CaptionParts.Length)])) + $" {i}";
            return (Url: url, Caption: caption);
        }).ToArray();
        var newline = random.Next(2) == 0 ? "\n" : "\r\n";
        var bom = random.Next(4) == 0 ? "\uFEFF" : "";
        switch (form)
        {
            case ListForm.Tsv:
                return Encoding.UTF8.GetBytes(bom + "id\turl\tcaption" + newline
                    + string.Concat(data.Select((r, i) => $"{i}\t{r.Url}\t{r.Caption.Replace('\n', ' ').Replace('\r', ' ')}{newline}")));
            case ListForm.Csv:
                return Encoding.UTF8.GetBytes(bom + "url,\"id\",caption" + newline + string.Concat(data.Select((r, i) =>
                    $"{r.Url},{i},{(random.Next(3) == 0 && !r.Caption.Contains('"') && !r.Caption.Contains(',') && !r.Caption.Contains('\n') ? r.Caption : "\"" + r.Caption.Replace("\"", "\"\"") + "\"")}{newline}")));
            case ListForm.JsonLines:
                return Encoding.UTF8.GetBytes(bom + string.Concat(data.Select((r, i) =>
                    (i % 7 == 3 ? newline : "") + (i % 11 == 5 ? "{not json" + newline : "") + JsonSerializer.Serialize(new { url = r.Url, caption = r.Caption }) + newline)));
            default:
                var urlField = new DataField<string>("url");
                var captionField = new DataField<string>("caption");
                var output = new MemoryStream();
                await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(urlField, captionField), output, cancellationToken: Ct))
                {
                    for (var at = 0; at < data.Length;)
                    {
                        var take = Math.Min(data.Length - at, random.Next(1, 8));
                        using var group = writer.CreateRowGroup();
                        await group.WriteAsync(urlField, data.Skip(at).Take(take).Select(r => r.Url).ToArray(), null);
                        await group.WriteAsync(captionField, data.Skip(at).Take(take).Select(r => r.Caption).ToArray(), null);
                        at += take;
                    }
                }
                return output.ToArray();
        }
    }

    private static string NameOf(ListForm form) => form switch
    {
        ListForm.Tsv => "list.tsv",
        ListForm.Csv => "list.csv",
        ListForm.JsonLines => "list.jsonl",
        _ => "list.parquet",
    };

    [Theory]
    [InlineData(ListForm.Tsv)]
    [InlineData(ListForm.Csv)]
    [InlineData(ListForm.JsonLines)]
    [InlineData(ListForm.Parquet)]
    public void Url_list_units_read_the_whole_files_rows_in_order_none_twice(ListForm form)
    {
        Gen.Select(Gen.Int[0, 1_000_000], Gen.Int[1, 60], Gen.Double[0.002, 1.2]).Sample((seed, rows, fraction) =>
        {
            var bytes = UrlList(form, seed, rows).GetAwaiter().GetResult();
            var unitBytes = Math.Max(1, (long)(bytes.Length * fraction));
            AssertUnitsReadAsTheWholeFileAsync(NameOf(form), bytes, unitBytes).GetAwaiter().GetResult();
        }, iter: 40);
    }

    [Theory]
    [InlineData(ListForm.Tsv)]
    [InlineData(ListForm.Csv)]
    [InlineData(ListForm.JsonLines)]
    [InlineData(ListForm.Parquet)]
    public async Task A_long_url_list_is_split_at_about_the_unit_size(ListForm form)
    {
        var bytes = await UrlList(form, seed: 11, rows: 200);
        await AssertUnitsReadAsTheWholeFileAsync(NameOf(form), bytes, bytes.Length / 6, expectedUnitsAtLeast: 4);
    }

    /// <summary>Any text, well-formed CSV or not: the planner follows the quoting exactly as the reader does, so rows stay whole.</summary>
    [Fact]
    public void Csv_units_of_arbitrary_text_read_the_whole_files_rows()
    {
        string[] tokens = ["http://img.example/a.jpg", "x", " ", ",", "\"", "\"\"", "\n", "\r\n", "\r", "é", "\"http://img.example/b.jpg\""];
        Gen.Select(Gen.Int[0, tokens.Length - 1].Array[1, 400], Gen.Double[0.01, 0.6]).Sample((picks, fraction) =>
        {
            var bytes = Encoding.UTF8.GetBytes("caption,url\nfirst,http://img.example/first.jpg\n" + string.Concat(picks.Select(i => tokens[i])));
            AssertUnitsReadAsTheWholeFileAsync("any.csv", bytes, Math.Max(1, (long)(bytes.Length * fraction))).GetAwaiter().GetResult();
        }, iter: 200);
    }

    [Fact]
    public async Task A_csv_record_with_line_breaks_in_quotes_is_never_cut()
    {
        // Every line but the header's ends inside one quoted field, so no line feed may be a cut.
        var bytes = Encoding.UTF8.GetBytes("url,caption\n\"http://img.example/1.jpg\",\"" + string.Concat(Enumerable.Range(0, 200).Select(i => $"line {i}\n")) + "\"\n");
        var units = await InputSplitter.PlanAsync("quoted.csv", new MemoryStream(bytes), 16, cancellationToken: Ct);
        Assert.Equal([new InputUnit("quoted.csv")], units);
    }
}
