using Platform.Silo.Storage;

[assembly: AssemblyFixture(typeof(Platform.Tests.Infrastructure.AzuriteFixture))]

namespace Platform.Tests.Infrastructure;

/// <summary>One real Azurite for the whole test assembly, on free loopback ports, in memory.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteEmulator? _emulator;

    public StorageConnection Connection => _emulator?.Connection ?? throw new InvalidOperationException("Azurite has not started.");

    public async ValueTask InitializeAsync()
    {
        var connection = StorageConnection.ForEmulator("127.0.0.1",
            AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        _emulator = await AzuriteEmulator.StartAsync(connection, dataDirectory: null);
    }

    public async ValueTask DisposeAsync()
    {
        if (_emulator is not null) await _emulator.DisposeAsync();
    }
}
