using System.Text;
using Parquet;
using Parquet.Schema;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Sources;
using Platform.Ingestion.Stages;

namespace Platform.Ingestion.Tests;

/// <summary>URL lists whose rows or row groups are far larger than any real one: skipped with a reason, the rest read.</summary>
public sealed class UrlListLimitsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(List<string> Urls, FunnelStats Stats)> ReadAsync(byte[] bytes, UrlListFormat format, UrlListOptions options)
    {
        var sink = new CollectingSink();
        using var run = new ExtractionRun(new ExtractionOptions { AltText = new() { MinWords = 1 } }, sink);
        await UrlListReader.AddAsync(run, new MemoryStream(bytes), format, "list", options, Ct);
        FrequencyFilterStage.RunInProcess(run, sink, Ct);
        return ([.. sink.Accepted.Select(c => c.ImageUrl)], run.Stats);
    }

    private static string Row(UrlListFormat format, int i) => format switch
    {
        UrlListFormat.Tsv => $"http://list.test/{i}.jpg\tcaption number {i}\n",
        UrlListFormat.Csv => $"http://list.test/{i}.jpg,\"caption number {i}\"\r\n",
        _ => $"{{\"url\":\"http://list.test/{i}.jpg\",\"caption\":\"caption number {i}\"}}\n",
    };

    private static string Header(UrlListFormat format) => format switch
    {
        UrlListFormat.Tsv => "url\tcaption\n",
        UrlListFormat.Csv => "url,caption\r\n",
        _ => "",
    };

    [Theory]
    [InlineData(UrlListFormat.Tsv)]
    [InlineData(UrlListFormat.Csv)]
    [InlineData(UrlListFormat.JsonLines)]
    public async Task A_line_of_20_million_characters_is_skipped_as_too_long_and_the_rows_around_it_are_read(UrlListFormat format)
    {
        var text = new StringBuilder(Header(format)).Append(Row(format, 1));
        text.Append("http://list.test/huge.jpg").Append('x', 20_000_000).Append('\n');
        text.Append(Row(format, 2));

        var (urls, stats) = await ReadAsync(Encoding.UTF8.GetBytes(text.ToString()), format, new UrlListOptions());

        Assert.Equal(["http://list.test/1.jpg", "http://list.test/2.jpg"], urls);
        Assert.Equal(1, stats.Rejections(UrlListReader.Stage, "row_too_long"));
    }

    [Fact]
    public async Task An_unterminated_csv_quote_loses_at_most_the_rows_within_the_limit()
    {
        var text = new StringBuilder("url,caption\r\n").Append(Row(UrlListFormat.Csv, 0));
        text.Append("http://list.test/open.jpg,\"a caption whose quote never closes\r\n");
        // Unquoted rows after it: a quote in them would close the open field.
        for (var i = 1; i <= 2000; i++) text.Append($"http://list.test/{i}.jpg,caption number {i}\r\n");
        const int limit = 1000;

        var (urls, stats) = await ReadAsync(Encoding.UTF8.GetBytes(text.ToString()), UrlListFormat.Csv, new UrlListOptions { MaxRowChars = limit });

        Assert.Equal(1, stats.Rejections(UrlListReader.Stage, "row_too_long"));
        Assert.Contains("http://list.test/0.jpg", urls);
        Assert.Contains("http://list.test/2000.jpg", urls);
        var rowLength = "http://list.test/1000.jpg,caption number 1000".Length;
        Assert.True(urls.Count >= 2001 - (limit / rowLength + 2), $"only {urls.Count} rows read");
    }

    [Fact]
    public async Task A_parquet_row_group_claiming_more_rows_than_allowed_is_skipped_and_the_next_group_read()
    {
        var url = new DataField<string>("url");
        var caption = new DataField<string>("caption");
        var file = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(url, caption), file, cancellationToken: Ct))
        {
            foreach (var rows in new[] { 5, 2 })
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(url, Enumerable.Range(0, rows).Select(i => $"http://list.test/{rows}-{i}.jpg").ToArray(), null);
                await group.WriteAsync(caption, Enumerable.Range(0, rows).Select(i => $"caption {rows} {i}").ToArray(), null);
            }
        }

        var (urls, stats) = await ReadAsync(file.ToArray(), UrlListFormat.Parquet, new UrlListOptions { MaxRowsPerRowGroup = 3 });

        Assert.Equal(["http://list.test/2-0.jpg", "http://list.test/2-1.jpg"], urls);
        Assert.Equal(1, stats.Rejections(UrlListReader.Stage, "row_group_too_large"));
    }

    [Fact]
    public async Task The_bounded_line_reader_splits_lines_as_TextReader_ReadLine_does()
    {
        var random = new Random(7);
        const string alphabet = "ab\r\n";
        for (var round = 0; round < 3000; round++)
        {
            var text = new string(Enumerable.Range(0, random.Next(0, 40)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            var expected = new List<string>();
            using (var reference = new StringReader(text))
                while (reference.ReadLine() is { } line) expected.Add(line);
            var actual = new List<string>();
            var reader = new BoundedLineReader(new StringReader(text), maxChars: 100);
            while (await reader.ReadLineAsync(Ct) is ({ } line, false)) actual.Add(line);
            Assert.True(expected.SequenceEqual(actual), $"text {System.Text.Json.JsonSerializer.Serialize(text)}");
        }
    }
}
