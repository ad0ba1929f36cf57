using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Platform.Datasets;
using Platform.Ingestion.Sources;

namespace Platform.Ingestion.Runs;

/// <summary>An opened input: its bytes from where the read starts, and the whole input's size.</summary>
public sealed record DumpInput(Stream Stream, long Length) : IAsyncDisposable, IDisposable
{
    public ValueTask DisposeAsync() => Stream.DisposeAsync();

    public void Dispose() => Stream.Dispose();
}

/// <summary>
/// The inputs of an ingestion (WARC/WAT files and URL lists): local paths, or blobs named by URL as
/// <c>http(s)://account-endpoint/container/name</c>. A blob URL is opened with the given storage account's client
/// (the silo's); without one it must carry a SAS token. A URL naming a container or a prefix stands for every dump
/// blob under it (<see cref="ExpandAsync"/>).
/// </summary>
public sealed class DumpInputs(BlobServiceClient? account = null)
{
    /// <summary>Inputs that can only be local files.</summary>
    public static readonly DumpInputs LocalOnly = new();

    /// <summary>The endings of blobs taken when a container or prefix is expanded: those `ingest` reads (WARC/WAT, URL lists).</summary>
    public static readonly IReadOnlyList<string> DumpEndings = [".warc", ".warc.gz", ".wat", ".wat.gz", ".tsv", ".csv", ".jsonl", ".parquet"];

    public static bool IsBlobUrl(string input) => DatasetTarget.IsBlobUrl(input);

    /// <summary>
    /// Opens an input for reading from byte <paramref name="offset"/> to its end, streamed (a blob is downloaded as it is
    /// read; a Parquet list, which its reader seeks in, through a seekable blob stream). Reads run to the end rather than to
    /// a given length because a reader of a byte range stops by itself after the last record that starts in the range,
    /// which may run past it. Throws <see cref="FileNotFoundException"/> for a missing file or blob.
    /// </summary>
    public async Task<DumpInput> OpenAsync(string input, long offset = 0, CancellationToken cancellationToken = default)
    {
        if (!IsBlobUrl(input))
        {
            if (!File.Exists(input)) throw new FileNotFoundException($"Input not found: {SecretRedaction.RedactUrl(input)}", input);
            var file = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            file.Position = offset;
            return new DumpInput(file, file.Length);
        }
        var blob = BlobOf(input);
        try
        {
            if (UrlListOptions.FormatOf(NameOf(input)) == UrlListFormat.Parquet)
            {
                var seekable = await blob.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { Position = offset }, cancellationToken);
                return new DumpInput(seekable, seekable.Length);
            }
            var download = await blob.DownloadStreamingAsync(new BlobDownloadOptions { Range = new HttpRange(offset) }, cancellationToken);
            var details = download.Value.Details;
            // A ranged answer says the blob's whole size after the slash of its Content-Range ("bytes 10-99/100").
            var length = details.ContentRange is { } range && range.LastIndexOf('/') is var slash and >= 0
                && long.TryParse(range[(slash + 1)..], out var total) ? total : offset + details.ContentLength;
            return new DumpInput(download.Value.Content, length);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new FileNotFoundException($"Input not found: {SecretRedaction.RedactUrl(input)} ({e.ErrorCode})", input, e);
        }
    }

    /// <summary>
    /// Opens an input for reading anywhere in it (planning its work units seeks to each cut): a local file, or a blob
    /// through the SDK's seekable read stream. Throws <see cref="FileNotFoundException"/> for a missing file or blob.
    /// </summary>
    public async Task<Stream> OpenSeekableAsync(string input, CancellationToken cancellationToken = default)
    {
        if (!IsBlobUrl(input))
        {
            if (!File.Exists(input)) throw new FileNotFoundException($"Input not found: {SecretRedaction.RedactUrl(input)}", input);
            return new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        try
        {
            return await BlobOf(input).OpenReadAsync(new BlobOpenReadOptions(allowModifications: false), cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new FileNotFoundException($"Input not found: {SecretRedaction.RedactUrl(input)} ({e.ErrorCode})", input, e);
        }
    }

    /// <summary>
    /// <see cref="OpenAsync"/> for readers that read synchronously (the WARC reader reading images back out of a dump);
    /// called off any scheduler that blocking could stall.
    /// </summary>
    public DumpInput Open(string input, long offset = 0) => OpenAsync(input, offset).GetAwaiter().GetResult();

    /// <summary>What tells an input's format: its path, or a blob URL's path without the query (a SAS token).</summary>
    public static string NameOf(string input) => IsBlobUrl(input) ? Uri.UnescapeDataString(new Uri(input).AbsolutePath) : input;

    /// <summary>
    /// Local paths as they are; a blob URL naming one blob as it is; a URL naming a container or a prefix (a "folder")
    /// becomes the URLs of the dump blobs under it (<see cref="DumpEndings"/>, any depth), sorted by name. A URL that
    /// names nothing is refused, so a typo does not submit an empty job.
    /// </summary>
    public async Task<IReadOnlyList<string>> ExpandAsync(IEnumerable<string> inputs, CancellationToken cancellationToken)
    {
        var expanded = new List<string>();
        foreach (var input in inputs)
        {
            if (!IsBlobUrl(input))
            {
                expanded.Add(input);
                continue;
            }
            var (container, path) = ContainerOf(input);
            if (path.Length > 0 && await container.GetBlobClient(path).ExistsAsync(cancellationToken))
            {
                expanded.Add(input);
                continue;
            }
            var prefix = path.Length == 0 || path.EndsWith('/') ? path : path + "/";
            var names = new List<string>();
            await foreach (var item in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken))
                if (DumpEndings.Any(e => item.Name.EndsWith(e, StringComparison.OrdinalIgnoreCase))) names.Add(item.Name);
            if (names.Count == 0) throw new FileNotFoundException($"No blob and no dump under {SecretRedaction.RedactUrl(input)} (dumps end in {string.Join(", ", DumpEndings)}).", input);
            names.Sort(StringComparer.Ordinal);
            // The container's client names each blob by its full URL (with the SAS token, where the input had one).
            expanded.AddRange(names.Select(name => container.GetBlobClient(name).Uri.AbsoluteUri));
        }
        return expanded;
    }

    private BlobClient BlobOf(string url)
    {
        var (container, path) = ContainerOf(url);
        if (path.Length == 0) throw new ArgumentException($"'{SecretRedaction.RedactUrl(url)}' names a container, not a blob.");
        return container.GetBlobClient(path);
    }

    /// <summary>The container a blob URL is in and the path below it, through the account's client or, lacking one, the URL's SAS token.</summary>
    public (BlobContainerClient Container, string Path) ContainerOf(string url)
    {
        var uri = new Uri(url);
        if (account is not null)
        {
            var (container, path) = DatasetTarget.SplitContainerAndPrefix(uri, account.Uri);
            return (account.GetBlobContainerClient(container), path);
        }
        if (uri.Query.Contains("sig=", StringComparison.Ordinal))
        {
            var parts = new BlobUriBuilder(uri);
            var path = parts.BlobName;
            parts.BlobName = "";
            return (new BlobContainerClient(parts.ToUri()), path);
        }
        throw new ArgumentException($"'{SecretRedaction.RedactUrl(url)}' is a blob URL: the platform's storage account (Storage:ConnectionString) or a SAS token in the URL is needed to read it.");
    }
}
