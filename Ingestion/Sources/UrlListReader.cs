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

    /// <summary>
    /// The longest row (a line, or a CSV record with quoted line breaks) read, in characters (default 1 Mi);
    /// a longer one is skipped and counted as <c>row_too_long</c>, so one huge line or an unterminated
    /// quote cannot fill memory with the rest of the file.
    /// </summary>
    public int MaxRowChars { get; init; } = 1 << 20;

    /// <summary>
    /// The most rows a Parquet row group may claim (default 4 Mi); a group claiming more is skipped and
    /// counted as <c>row_group_too_large</c>, since its columns are read whole and sized by that claim.
    /// </summary>
    public long MaxRowsPerRowGroup { get; init; } = 1 << 22;

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
    public static Task AddAsync(ExtractionRun run, Stream input, UrlListFormat format, string source, UrlListOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new UrlListOptions();
        var rows = format switch
        {
            UrlListFormat.Parquet => ReadParquet(input, 0, long.MaxValue, options, run.Stats, cancellationToken),
            UrlListFormat.JsonLines => ReadJsonLines(input, options, run.Stats, cancellationToken, FileStart),
            _ => ReadDelimited(input, Separator(format), header: null, options, run.Stats, cancellationToken),
        };
        return OfferAsync(run, rows, source);
    }

    /// <summary>
    /// As <see cref="AddAsync"/> for the rows of one chunk of a delimited or JSON lines file: <paramref name="rows"/> holds the chunk's
    /// bytes, which begin at a line start after the header; <paramref name="fileStart"/> reads the file from its start, for the column names
    /// of its header (not read for JSON lines).
    /// </summary>
    public static async Task AddChunkAsync(ExtractionRun run, Stream fileStart, Stream rows, UrlListFormat format, string source, UrlListOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        if (format == UrlListFormat.Parquet) throw new ArgumentException("A Parquet file is split by row groups (AddRowGroupsAsync), not by bytes.", nameof(format));
        options ??= new UrlListOptions();
        if (format == UrlListFormat.JsonLines)
        {
            await OfferAsync(run, ReadJsonLines(rows, options, run.Stats, cancellationToken, MidFile), source);
            return;
        }
        List<string>? header;
        using (var reader = new StreamReader(fileStart, FileStart, detectEncodingFromByteOrderMarks: true, leaveOpen: true))
            header = await ReadRecordAsync(new BoundedLineReader(reader, options.MaxRowChars), Separator(format), options.MaxRowChars, cancellationToken);
        await OfferAsync(run, ReadDelimited(rows, Separator(format), header ?? [], options, run.Stats, cancellationToken), source);
    }

    /// <summary>As <see cref="AddAsync"/> for the row groups of a Parquet file (seekable) that begin in bytes [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public static Task AddRowGroupsAsync(ExtractionRun run, Stream file, long start, long end, string source, UrlListOptions? options = null,
        CancellationToken cancellationToken = default) =>
        OfferAsync(run, ReadParquet(file, start, end, options ?? new UrlListOptions(), run.Stats, cancellationToken), source);

    /// <summary>Where a Parquet row group's bytes begin: its first page, dictionary or data, of any column.</summary>
    public static long RowGroupStart(Parquet.Meta.RowGroup group)
    {
        var first = long.MaxValue;
        foreach (var column in group.Columns)
            if (column.MetaData is { } m) first = Math.Min(first, m.DictionaryPageOffset is > 0 and var d ? Math.Min(d, m.DataPageOffset) : m.DataPageOffset);
        return first != long.MaxValue ? first : group.FileOffset ?? 0;
    }

    private static char Separator(UrlListFormat format) => format == UrlListFormat.Tsv ? '\t' : ',';

    /// <summary>UTF-8 at a file's start, where a byte order mark is skipped (the reader detects others).</summary>
    private static readonly Encoding FileStart = Encoding.UTF8;
    /// <summary>UTF-8 in the middle of a file, where the bytes of U+FEFF are text, not a byte order mark.</summary>
    private static readonly Encoding MidFile = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    private static async Task OfferAsync(ExtractionRun run, IAsyncEnumerable<(string? Url, string? Caption)> rows, string source)
    {
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

    /// <param name="header">The file's header when <paramref name="input"/> is a chunk after it; null when the input is the whole file.</param>
    private static async IAsyncEnumerable<(string? Url, string? Caption)> ReadDelimited(Stream input, char separator, List<string>? header, UrlListOptions options,
        FunnelStats stats, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = header is null ? new StreamReader(input, FileStart, detectEncodingFromByteOrderMarks: true) : new StreamReader(input, MidFile, false);
        var lines = new BoundedLineReader(reader, options.MaxRowChars);
        int urlIndex = -1, captionIndex = -1;
        if (header is not null) (urlIndex, captionIndex) = Columns(header, separator, options);
        List<string>? fields;
        while ((fields = await ReadRecordAsync(lines, separator, options.MaxRowChars, cancellationToken)) is not null)
        {
            if (urlIndex < 0)
            {
                (urlIndex, captionIndex) = Columns(fields, separator, options);
                continue;
            }
            stats.Enter(Stage);
            if (ReferenceEquals(fields, RowTooLong))
            {
                stats.Reject(Stage, "row_too_long");
                continue;
            }
            if (fields.Count <= urlIndex)
            {
                stats.Reject(Stage, "missing_columns");
                continue;
            }
            yield return (fields[urlIndex], captionIndex >= 0 && captionIndex < fields.Count ? fields[captionIndex] : null);
        }
    }

    private static (int Url, int Caption) Columns(List<string> header, char separator, UrlListOptions options)
    {
        var url = header.FindIndex(f => f.Trim() == options.UrlColumn);
        if (url < 0) throw new InvalidDataException($"The header has no '{options.UrlColumn}' column: {string.Join(separator, header)}");
        return (url, header.FindIndex(f => f.Trim() == options.CaptionColumn));
    }

    /// <summary>What <see cref="ReadRecordAsync"/> returns for a row over the length limit.</summary>
    private static readonly List<string> RowTooLong = [];

    /// <summary>
    /// One record; CSV fields may be quoted (with doubled quotes and line breaks inside), TSV fields are not.
    /// A record over <paramref name="maxChars"/> is <see cref="RowTooLong"/>; reading goes on at the line after
    /// the one where it passed the limit.
    /// </summary>
    private static async Task<List<string>?> ReadRecordAsync(BoundedLineReader reader, char separator, int maxChars, CancellationToken cancellationToken)
    {
        var (line, tooLong) = await reader.ReadLineAsync(cancellationToken);
        if (line is null) return null;
        if (tooLong) return RowTooLong;
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
                var (next, nextTooLong) = await reader.ReadLineAsync(cancellationToken);
                if (next is null) break;
                // An unterminated quote would otherwise gather the rest of the file into one field.
                if (nextTooLong || field.Length + next.Length + 1 > maxChars) return RowTooLong;
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
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken, Encoding encoding)
    {
        using var reader = new StreamReader(input, encoding, detectEncodingFromByteOrderMarks: encoding == FileStart);
        var lines = new BoundedLineReader(reader, options.MaxRowChars);
        while (await lines.ReadLineAsync(cancellationToken) is ({ } line, var tooLong))
        {
            if (tooLong)
            {
                stats.Enter(Stage);
                stats.Reject(Stage, "row_too_long");
                continue;
            }
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

    private static async IAsyncEnumerable<(string? Url, string? Caption)> ReadParquet(Stream input, long start, long end, UrlListOptions options, FunnelStats stats,
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
            if (RowGroupStart(group.RowGroup) is var at && (at < start || at >= end)) continue;
            if (group.RowCount < 0 || group.RowCount > options.MaxRowsPerRowGroup)
            {
                // The claim sizes the arrays below: a crafted footer must not make us allocate gigabytes.
                stats.Enter(Stage);
                stats.Reject(Stage, "row_group_too_large");
                continue;
            }
            var count = (int)group.RowCount;
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
