using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using Platform.Ingestion.Html;
using Platform.Ingestion.Pipeline;

namespace Platform.Ingestion.Sources;

public enum UrlListFormat { Tsv, Csv, JsonLines, Parquet }

/// <summary>img2dataset-style inputs: a URL column and a caption column (defaults `url` and `caption`).</summary>
public sealed class UrlListOptions
{
    public string UrlColumn { get; init; } = "url";
    public string CaptionColumn { get; init; } = "caption";

    public static UrlListFormat? FormatOf(string path)
    {
        var name = path.ToLowerInvariant();
        if (name.EndsWith(".tsv", StringComparison.Ordinal)) return UrlListFormat.Tsv;
        if (name.EndsWith(".csv", StringComparison.Ordinal)) return UrlListFormat.Csv;
        if (name.EndsWith(".jsonl", StringComparison.Ordinal) || name.EndsWith(".json", StringComparison.Ordinal)) return UrlListFormat.JsonLines;
        if (name.EndsWith(".parquet", StringComparison.Ordinal)) return UrlListFormat.Parquet;
        return null;
    }
}

public static class UrlListReader
{
    public const string Stage = "url_list_rows";

    /// <summary>Offers every row as a candidate to the run; malformed rows are counted and skipped.</summary>
    public static async Task AddAsync(ExtractionRun run, Stream input, UrlListFormat format, string source, UrlListOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new UrlListOptions();
        var rows = format switch
        {
            UrlListFormat.Parquet => ReadParquet(input, options, run.Stats, cancellationToken),
            UrlListFormat.JsonLines => ReadJsonLines(input, options, run.Stats, cancellationToken),
            _ => ReadDelimited(input, format == UrlListFormat.Tsv ? '\t' : ',', options, run.Stats, cancellationToken),
        };
        await foreach (var (url, caption) in rows)
        {
            if (url is null || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                run.Stats.Reject(Stage, "invalid_url");
                continue;
            }
            run.Stats.Pass(Stage);
            run.Offer(new PairCandidate
            {
                PageUrl = "",
                ImageUrl = uri.AbsoluteUri,
                AltText = caption is null ? null : HtmlExtractor.Collapse(caption),
                Origin = "url-list",
                Source = source,
            });
        }
    }

    private static async IAsyncEnumerable<(string? Url, string? Caption)> ReadDelimited(Stream input, char separator, UrlListOptions options, FunnelStats stats,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(input, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        int urlIndex = -1, captionIndex = -1;
        List<string>? fields;
        while ((fields = await ReadRecordAsync(reader, separator, cancellationToken)) is not null)
        {
            if (urlIndex < 0)
            {
                urlIndex = fields.FindIndex(f => f.Trim() == options.UrlColumn);
                captionIndex = fields.FindIndex(f => f.Trim() == options.CaptionColumn);
                if (urlIndex < 0) throw new InvalidDataException($"The header has no '{options.UrlColumn}' column: {string.Join(separator, fields)}");
                continue;
            }
            stats.Enter(Stage);
            if (fields.Count <= urlIndex)
            {
                stats.Reject(Stage, "missing_columns");
                continue;
            }
            yield return (fields[urlIndex], captionIndex >= 0 && captionIndex < fields.Count ? fields[captionIndex] : null);
        }
    }

    /// <summary>One record; CSV fields may be quoted (with doubled quotes and line breaks inside), TSV fields are not.</summary>
    private static async Task<List<string>?> ReadRecordAsync(StreamReader reader, char separator, CancellationToken cancellationToken)
    {
        var line = await reader.ReadLineAsync(cancellationToken);
        if (line is null) return null;
        var fields = new List<string>();
        if (separator == '\t')
        {
            fields.AddRange(line.Split('\t'));
            return fields;
        }
        var field = new StringBuilder();
        var quoted = false;
        var i = 0;
        while (true)
        {
            if (i >= line.Length)
            {
                if (!quoted) break;
                var next = await reader.ReadLineAsync(cancellationToken);
                if (next is null) break;
                field.Append('\n');
                line = next;
                i = 0;
                continue;
            }
            var c = line[i++];
            if (quoted)
            {
                if (c == '"' && i < line.Length && line[i] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"' && field.Length == 0) quoted = true;
            else if (c == separator) { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields;
    }

    private static async IAsyncEnumerable<(string? Url, string? Caption)> ReadJsonLines(Stream input, UrlListOptions options, FunnelStats stats,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(input, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            stats.Enter(Stage);
            string? url = null, caption = null;
            var valid = true;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) valid = false;
                else
                {
                    if (doc.RootElement.TryGetProperty(options.UrlColumn, out var u) && u.ValueKind == JsonValueKind.String) url = u.GetString();
                    if (doc.RootElement.TryGetProperty(options.CaptionColumn, out var c) && c.ValueKind == JsonValueKind.String) caption = c.GetString();
                }
            }
            catch (JsonException)
            {
                valid = false;
            }
            if (!valid)
            {
                stats.Reject(Stage, "malformed_json");
                continue;
            }
            yield return (url, caption);
        }
    }

    private static async IAsyncEnumerable<(string? Url, string? Caption)> ReadParquet(Stream input, UrlListOptions options, FunnelStats stats,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var reader = await ParquetReader.CreateAsync(input, cancellationToken: cancellationToken);
        var fields = reader.Schema.GetDataFields();
        var urlField = fields.FirstOrDefault(f => f.Name == options.UrlColumn)
            ?? throw new InvalidDataException($"The Parquet file has no '{options.UrlColumn}' column.");
        var captionField = fields.FirstOrDefault(f => f.Name == options.CaptionColumn);
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var count = checked((int)group.RowCount);
            var urls = new string?[count];
            await group.ReadAsync(urlField, urls.AsMemory(), null, cancellationToken);
            var captions = new string?[count];
            if (captionField is not null) await group.ReadAsync(captionField, captions.AsMemory(), null, cancellationToken);
            for (var i = 0; i < count; i++)
            {
                stats.Enter(Stage);
                yield return (urls[i], captionField is null ? null : captions[i]);
            }
        }
    }
}
