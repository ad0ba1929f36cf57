using Orleans.TestingHost;
using Platform.Model.Devices;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;

namespace Platform.Tests.Infrastructure;

/// <summary>
/// An <see cref="InProcessTestCluster"/> of real silos on Azure Table and Blob storage served by
/// Azurite, wired by the same <see cref="SiloBuilderExtensions.AddPlatformStorage"/> and
/// <see cref="SiloBuilderExtensions.AddPlatformDevices"/> as the host.
/// </summary>
public static class PlatformTestCluster
{
    public const string ManifestContainer = "datasets";

    /// <param name="devices">The training devices each silo (by name) advertises; none by default.</param>
    /// <param name="configure">More wiring for each silo (by name), after the host's: a test's options or test seams.</param>
    public static async Task<InProcessTestCluster> StartAsync(StorageConnection storage, string serviceId, short silos = 2,
        Func<string, IReadOnlyList<TrainingDevice>>? devices = null, Action<string, ISiloBuilder>? configure = null)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.Options.ServiceId = serviceId;
        builder.Options.ClusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
        builder.ConfigureSilo((options, silo) =>
        {
            silo.AddPlatformStorage(storage, ManifestContainer);
            silo.AddPlatformDevices(devices?.Invoke(options.SiloName) ?? []);
            configure?.Invoke(options.SiloName, silo);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }
}

/// <summary>The shared two-silo cluster for grain tests; each test uses its own dataset names.</summary>
public sealed class SharedClusterFixture(AzuriteFixture azurite) : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public async ValueTask InitializeAsync() =>
        Cluster = await PlatformTestCluster.StartAsync(azurite.Connection, "shared-" + Guid.NewGuid().ToString("N")[..8]);

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SharedClusterCollection : ICollectionFixture<SharedClusterFixture>
{
    public const string Name = "shared cluster";
}
