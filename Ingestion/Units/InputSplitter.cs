using System.IO.Compression;
using Parquet;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Sources;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Units;

/// <summary>
/// Plans the work units of one input: parts of about <c>unitBytes</c> each, cut only where a reader of the whole file
/// would begin a record or row anew, so the parts read one after another give exactly the records (or rows) of the
/// whole file, in order, none twice. A file no larger than <c>unitBytes</c>, or one with no safe cut, is one unit.
/// <list type="bullet">
/// <item>Per-record gzip WARC/WAT (the usual Common Crawl form): cuts at gzip members whose text begins with <c>WARC/</c>,
/// found by a scan from each target offset (a few reads per cut). A whole-file gzip has no such member after its start.</item>
/// <item>Uncompressed WARC: cuts at records the reader itself found, walking the file once, and only where nothing between
/// the record and the one before it was damaged (so the record before a cut reads alike in either unit).</item>
/// <item>TSV and JSON lines: cuts after a line feed. CSV: after a line feed that ends a record, found by following the
/// quoting from the file's start as the reader does (a quoted field may hold line breaks). Each part's rows take their
/// column names from the file's header. A file with a UTF-16 or UTF-32 byte order mark is not split.</item>
/// <item>Parquet: cuts at row group starts.</item>
/// </list>
/// Planning reads the file (for uncompressed WARC and CSV, all of it); callers run it off any latency-sensitive thread.
/// </summary>
public static class InputSplitter
{
    /// <summary>Plans the units of <paramref name="input"/>, whose bytes <paramref name="file"/> (seekable) reads; its format comes from its name.</summary>
    /// <param name="warc">The options the units will be read with: a record too large for them is read differently.</param>
    public static async Task<IReadOnlyList<InputUnit>> PlanAsync(string input, Stream file, long unitBytes, WarcReaderOptions? warc = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(unitBytes, 1);
        var length = file.Length;
        if (length <= unitBytes) return [new InputUnit(input)];
        var cuts = UrlListOptions.FormatOf(DumpInputs.NameOf(input)) switch
        {
            UrlListFormat.Parquet => await ParquetCutsAsync(file, unitBytes, cancellationToken),
            UrlListFormat.Csv => CsvCuts(file, unitBytes, cancellationToken),
            UrlListFormat.Tsv or UrlListFormat.JsonLines => LineCuts(file, unitBytes, cancellationToken),
            _ => StartsWithGzip(file) ? GzipCuts(file, unitBytes, cancellationToken) : PlainWarcCuts(file, unitBytes, warc ?? new WarcReaderOptions(), cancellationToken),
        };
        if (cuts.Count == 0) return [new InputUnit(input)];
        var bounds = cuts.Prepend(0).Append(length).ToArray();
        return [.. bounds.Zip(bounds.Skip(1), (start, end) => new InputUnit(input, start, end))];
    }

    private static bool StartsWithGzip(Stream file)
    {
        Span<byte> head = stackalloc byte[2];
        file.Position = 0;
        return file.ReadAtLeast(head, 2, throwOnEndOfStream: false) == 2 && head[0] == 0x1f && head[1] == 0x8b;
    }

    /// <summary>Takes each cut as the first safe one at or after the previous cut plus <paramref name="unitBytes"/>.</summary>
    private static List<long> CutsEvery(long unitBytes, long length, Func<long, long?> firstSafeFrom)
    {
        var cuts = new List<long>();
        var target = unitBytes;
        while (target < length && firstSafeFrom(target) is { } cut && cut < length)
        {
            cuts.Add(cut);
            target = cut + unitBytes;
        }
        return cuts;
    }

    private static List<long> GzipCuts(Stream file, long unitBytes, CancellationToken cancellationToken) =>
        CutsEvery(unitBytes, file.Length, from => NextRecordMember(file, from, cancellationToken));

    /// <summary>The first offset at or after <paramref name="from"/> where a gzip member begins whose text begins a WARC record.</summary>
    private static long? NextRecordMember(Stream file, long from, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 16];
        var at = from;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            file.Position = at;
            var n = file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            var i = 0;
            while (i < n)
            {
                var found = buffer.AsSpan(i, n - i).IndexOf((byte)0x1f);
                if (found < 0) { i = n; break; }
                i += found;
                if (n - i < GzipMemberSource.HeaderLength) break;
                if (GzipMemberSource.IsMemberHeader(buffer.AsSpan(i, GzipMemberSource.HeaderLength)) && StartsWarcRecord(file, at + i)) return at + i;
                i++;
            }
            // At the end of the file no member header fits in what is left.
            if (n < buffer.Length) return null;
            at += i;
        }
    }

    /// <summary>Whether a gzip member at <paramref name="offset"/> inflates to text beginning with <c>WARC/</c> (a candidate header inside compressed data does not).</summary>
    private static bool StartsWarcRecord(Stream file, long offset)
    {
        file.Position = offset;
        try
        {
            using var gzip = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
            Span<byte> head = stackalloc byte[5];
            return gzip.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual("WARC/"u8);
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    private static List<long> PlainWarcCuts(Stream file, long unitBytes, WarcReaderOptions options, CancellationToken cancellationToken)
    {
        file.Position = 0;
        var stats = new FunnelStats();
        // The walk only needs where records begin; digests change no record's extent.
        using var reader = new WarcReader(file, stats, new WarcReaderOptions { MaxRecordBytes = options.MaxRecordBytes, MaxHeaderBytes = options.MaxHeaderBytes, CheckDigests = false },
            leaveOpen: true);
        var cuts = new List<long>();
        var target = unitBytes;
        var damage = 0L;
        foreach (var record in reader.ReadAll(cancellationToken))
        {
            var damageSoFar = stats.StageNames.Sum(stage => stats.Stage(stage).RejectedTotal);
            var clean = damageSoFar == damage;
            damage = damageSoFar;
            if (!clean || record.Offset < target) continue;
            cuts.Add(record.Offset);
            target = record.Offset + unitBytes;
        }
        return cuts;
    }

    /// <summary>False for a UTF-16 or UTF-32 text, whose line feeds are not single bytes.</summary>
    private static bool IsByteOriented(Stream file)
    {
        Span<byte> head = stackalloc byte[4];
        file.Position = 0;
        var n = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return !(n >= 2 && ((head[0] == 0xFF && head[1] == 0xFE) || (head[0] == 0xFE && head[1] == 0xFF)))
            && !(n >= 4 && head[0] == 0 && head[1] == 0 && head[2] == 0xFE && head[3] == 0xFF);
    }

    private static List<long> LineCuts(Stream file, long unitBytes, CancellationToken cancellationToken) =>
        IsByteOriented(file) ? CutsEvery(unitBytes, file.Length, from => AfterNextLineFeed(file, from - 1, cancellationToken)) : [];

    private static long? AfterNextLineFeed(Stream file, long from, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 16];
        file.Position = from;
        var at = from;
        int n;
        while ((n = file.Read(buffer)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var found = buffer.AsSpan(0, n).IndexOf((byte)'\n');
            if (found >= 0) return at + found + 1;
            at += n;
        }
        return null;
    }

    /// <summary>
    /// Follows the CSV reader's quoting over the whole file, byte by byte (quotes, commas and line breaks are ASCII, so
    /// UTF-8 text needs no decoding): a field opens a quote only when nothing is in it yet, a doubled quote inside quotes
    /// is a quote, and a line break (LF, CR or CRLF) outside quotes ends the record. Cuts follow a line feed ending a record.
    /// </summary>
    private static List<long> CsvCuts(Stream file, long unitBytes, CancellationToken cancellationToken)
    {
        if (!IsByteOriented(file)) return [];
        var cuts = new List<long>();
        var target = unitBytes;
        var buffer = new byte[1 << 16];
        file.Position = 0;
        bool quoted = false, fieldHasText = false, quoteInQuotes = false, afterCarriageReturn = false, recordEndedAtCarriageReturn = false;
        long position = 0;
        var skip = 0;
        int n;
        var first = true;
        while ((n = file.Read(buffer)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (first)
            {
                // The reader drops a UTF-8 byte order mark before the header.
                if (n >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF) skip = 3;
                first = false;
            }
            for (var i = skip; i < n; i++)
            {
                var b = buffer[i];
                var after = position + i + 1;
                if (quoteInQuotes)
                {
                    quoteInQuotes = false;
                    if (b == (byte)'"') { fieldHasText = true; continue; }
                    quoted = false;
                }
                if (b == (byte)'\n' && afterCarriageReturn)
                {
                    afterCarriageReturn = false;
                    if (recordEndedAtCarriageReturn && after >= target) { cuts.Add(after); target = after + unitBytes; }
                    continue;
                }
                afterCarriageReturn = false;
                if (b is (byte)'\r' or (byte)'\n')
                {
                    // Inside quotes the line break becomes part of the field; outside, the record ends.
                    var recordEnds = !quoted;
                    fieldHasText = quoted;
                    if (b == (byte)'\r') (afterCarriageReturn, recordEndedAtCarriageReturn) = (true, recordEnds);
                    else if (recordEnds && after >= target) { cuts.Add(after); target = after + unitBytes; }
                }
                else if (quoted)
                {
                    if (b == (byte)'"') quoteInQuotes = true;
                    else fieldHasText = true;
                }
                else if (b == (byte)'"' && !fieldHasText) quoted = true;
                else fieldHasText = b != (byte)',';
            }
            skip = 0;
            position += n;
        }
        if (cuts.Count > 0 && cuts[^1] >= file.Length) cuts.RemoveAt(cuts.Count - 1);
        return cuts;
    }

    private static async Task<List<long>> ParquetCutsAsync(Stream file, long unitBytes, CancellationToken cancellationToken)
    {
        file.Position = 0;
        await using var reader = await ParquetReader.CreateAsync(file, leaveStreamOpen: true, cancellationToken: cancellationToken);
        var starts = new List<long>();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            starts.Add(UrlListReader.RowGroupStart(group.RowGroup));
        }
        // Units name row groups by where they begin; groups not laid out in order cannot be told apart that way.
        if (starts.Zip(starts.Skip(1)).Any(pair => pair.First >= pair.Second)) return [];
        return CutsEvery(unitBytes, file.Length, from => starts.Skip(1).Where(s => s >= from).Cast<long?>().FirstOrDefault());
    }
}
