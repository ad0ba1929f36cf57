using Platform.Benchmarks;
using Platform.Silo.Hosting;

namespace Platform.Silo.Storage;

/// <summary>
/// An in-memory Azurite on free loopback ports, wired into silos as the platform wires its own storage: storage for an
/// in-process cluster that lives as long as one run (`platform bench ingest-cluster`).
/// </summary>
public sealed class InMemoryAzuriteStorage : IClusterStorage
{
    private readonly AzuriteEmulator _azurite;
    private readonly string _manifestContainer;

    private InMemoryAzuriteStorage(AzuriteEmulator azurite, string manifestContainer)
    {
        _azurite = azurite;
        _manifestContainer = manifestContainer;
    }

    public static async Task<IClusterStorage> StartAsync(string manifestContainer, CancellationToken cancellationToken)
    {
        var connection = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        return new InMemoryAzuriteStorage(await AzuriteEmulator.StartAsync(connection, dataDirectory: null, cancellationToken), manifestContainer);
    }

    public void AddTo(ISiloBuilder silo) => silo.AddPlatformStorage(_azurite.Connection, _manifestContainer);

    public ValueTask DisposeAsync() => _azurite.DisposeAsync();
}
