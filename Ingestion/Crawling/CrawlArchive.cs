using System.Globalization;
using Platform.Ingestion.Warc;
using Platform.Datasets;

namespace Platform.Ingestion.Crawling;

/// <summary>
/// The crawl's web dump: every fetched response with its request, as per-record gzip WARC/1.1 files
/// (<c>{prefix}-00000.warc.gz</c>, ...) that `platform ingest run` and `ingest submit` read like any
/// other dump. A file is written under a <c>.open</c> name and renamed when closed, so a crash never
/// leaves a truncated file that looks finished. Thread-safe.
/// </summary>
public sealed class CrawlArchive(string directory, string prefix, long maxFileBytes, string userAgent) : IDisposable
{
    private const string OpenSuffix = ".open";
    private readonly Lock gate = new();
    private readonly List<string> files = [];
    private FileStream? stream;
    private WarcWriter? writer;
    private string? currentPath;

    /// <summary>The finished files, in order; the one being written is added when it closes.</summary>
    public IReadOnlyList<string> Files
    {
        get { lock (gate) return [.. files]; }
    }

    /// <summary>Archives one exchange: the GET request and the response exactly as received (body still content-encoded).</summary>
    public long Write(Uri uri, int status, IEnumerable<KeyValuePair<string, string>> headers, ReadOnlySpan<byte> body)
    {
        lock (gate)
        {
            var warc = Writer();
            var before = stream!.Position;
            var request = warc.WriteRequest(uri.AbsoluteUri);
            warc.WriteResponse(uri.AbsoluteUri, status, headers, body, concurrentTo: request);
            var written = stream.Position - before;
            if (stream.Position >= maxFileBytes) Close();
            return written;
        }
    }

    private WarcWriter Writer()
    {
        if (writer is not null) return writer;
        Directory.CreateDirectory(directory);
        var name = $"{prefix}-{files.Count.ToString("D5", CultureInfo.InvariantCulture)}.warc.gz";
        currentPath = Path.Combine(directory, name);
        stream = new FileStream(currentPath + OpenSuffix, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        writer = new WarcWriter(stream, gzipPerRecord: true, leaveOpen: true);
        writer.WriteWarcInfo(name, [new("software", "platform crawl"), new("http-header-user-agent", userAgent), new("format", "WARC File Format 1.1")]);
        return writer;
    }

    private void Close()
    {
        if (writer is null) return;
        writer.Dispose();
        stream!.Dispose();
        DurableFiles.Move(currentPath + OpenSuffix, currentPath!, overwrite: true);
        files.Add(currentPath!);
        writer = null;
        stream = null;
    }

    /// <summary>Closes the file being written.</summary>
    public void Dispose()
    {
        lock (gate) Close();
    }
}
