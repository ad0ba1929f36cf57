using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace Platform.Silo.Storage;

/// <summary>
/// An Azure Storage connection string with what the host needs to know about it: whether it names
/// the local emulator (so `platform up` may start Azurite) and on which ports.
/// </summary>
public sealed record StorageConnection(string ConnectionString, bool IsLocalEmulator, Uri BlobEndpoint, Uri? QueueEndpoint, Uri TableEndpoint)
{
    /// <summary>The well-known Azurite account key; public by design, it only opens the local emulator.</summary>
    public const string EmulatorAccountName = "devstoreaccount1";
    public const string EmulatorAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    public static StorageConnection ForEmulator(string host, int blobPort, int queuePort, int tablePort)
    {
        var conn = $"DefaultEndpointsProtocol=http;AccountName={EmulatorAccountName};AccountKey={EmulatorAccountKey};"
                   + $"BlobEndpoint=http://{host}:{blobPort}/{EmulatorAccountName};"
                   + $"QueueEndpoint=http://{host}:{queuePort}/{EmulatorAccountName};"
                   + $"TableEndpoint=http://{host}:{tablePort}/{EmulatorAccountName};";
        return Parse(conn);
    }

    public static StorageConnection Parse(string connectionString) =>
        TryParse(connectionString, out var parsed, out var problem) ? parsed : throw new FormatException(problem);

    public static bool TryParse(string connectionString, out StorageConnection parsed, out string problem)
    {
        parsed = null!;
        var pairs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
            {
                problem = $"'{part}' is not a Key=Value pair.";
                return false;
            }
            pairs[part[..eq]] = part[(eq + 1)..];
        }

        try
        {
            // The SDK clients are the authority on what they accept; constructing them parses the string.
            var blob = new BlobServiceClient(connectionString).Uri;
            var table = new TableServiceClient(connectionString).Uri;
            Uri? queue = null;
            if (pairs.TryGetValue("QueueEndpoint", out var q) && Uri.TryCreate(q, UriKind.Absolute, out var qUri)) queue = qUri;
            var useDevStorage = pairs.TryGetValue("UseDevelopmentStorage", out var dev) && bool.TryParse(dev, out var on) && on;
            if (useDevStorage) queue ??= new Uri($"http://127.0.0.1:10001/{EmulatorAccountName}");
            var emulatorAccount = useDevStorage
                                  || (pairs.TryGetValue("AccountName", out var account) && account == EmulatorAccountName);
            var isLocal = emulatorAccount && IsLoopback(blob) && IsLoopback(table) && (queue is null || IsLoopback(queue));
            parsed = new StorageConnection(connectionString, isLocal, blob, queue, table);
            problem = "";
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            problem = e.Message;
            return false;
        }
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || uri.Host == "127.0.0.1" || uri.Host == "[::1]";

    public BlobServiceClient CreateBlobClient() => new(ConnectionString);

    public BlobServiceClient CreateBlobClient(BlobClientOptions options) => new(ConnectionString, options);

    public TableServiceClient CreateTableClient() => new(ConnectionString);
}
