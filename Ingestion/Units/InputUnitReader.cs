using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Sources;

namespace Platform.Ingestion.Units;

/// <summary>Opens an input's bytes from <paramref name="start"/> on: <paramref name="length"/> of them, or (null) all the rest, seekable.</summary>
public delegate Task<Stream> OpenInputRange(long start, long? length, CancellationToken cancellationToken);

/// <summary>
/// Extracts one work unit (<see cref="InputUnit"/>) into a run, so the run sees that unit's records or rows only, named by
/// the original file as a run over the whole file names them: a WARC byte range is read as a stream of its own (gzip member
/// and uncompressed record offsets stay the file's), a URL-list chunk with its file's header, a Parquet unit by row groups.
/// </summary>
public static class InputUnitReader
{
    /// <returns>For a WARC/WAT unit, where its record offsets count from and its decompressed length (see <see cref="WarcExtent"/>); default for URL lists.</returns>
    public static async Task<WarcExtent> AddAsync(ExtractionRun run, InputUnit unit, OpenInputRange open, UrlListOptions? urlLists = null,
        IProgress<ExtractionProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var format = UrlListOptions.FormatOf(DumpInputs.NameOf(unit.Input));
        if (unit.End is not { } end || (unit.Start == 0 && format is not UrlListFormat.Parquet))
        {
            // A whole file, or a file's first part, which holds its header: read as the file itself is.
            await using var input = await open(0, unit.End, cancellationToken);
            if (format is not { } whole) return run.AddWarc(input, unit.Input, progress, cancellationToken);
            await UrlListReader.AddAsync(run, input, whole, unit.Input, urlLists, cancellationToken);
            return default;
        }
        switch (format)
        {
            case UrlListFormat.Parquet:
                await using (var file = await open(0, null, cancellationToken))
                    await UrlListReader.AddRowGroupsAsync(run, file, unit.Start, end, unit.Input, urlLists, cancellationToken);
                return default;
            case { } lines:
                await using (var fileStart = await open(0, null, cancellationToken))
                await using (var rows = await open(unit.Start, end - unit.Start, cancellationToken))
                    await UrlListReader.AddChunkAsync(run, fileStart, rows, lines, unit.Input, urlLists, cancellationToken);
                return default;
            default:
                await using (var range = await open(unit.Start, end - unit.Start, cancellationToken))
                    return run.AddWarc(range, unit.Input, progress, cancellationToken, inputOffset: unit.Start);
        }
    }
}
