using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Platform.Benchmarks;

/// <summary>
/// Silos of one cluster in this process, on the storage a cluster benchmark started: the first is the primary the others
/// join. Their logging is off, so that it does not mix with the benchmark's lines. Disposing stops them, last started first.
/// </summary>
internal sealed class InProcessCluster : IAsyncDisposable
{
    private readonly List<IHost> hosts = [];

    private InProcessCluster()
    {
    }

    public IReadOnlyList<IHost> Silos => hosts;

    public IGrainFactory Grains => hosts[0].Services.GetRequiredService<IGrainFactory>();

    /// <param name="configure">Adds to silo number i (from 0) what the benchmark needs beyond the storage: devices, say.</param>
    public static async Task<InProcessCluster> StartAsync(IClusterStorage storage, int silos, string servicePrefix, Action<ISiloBuilder, int>? configure,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(silos, 1);
        var serviceId = servicePrefix + Guid.NewGuid().ToString("N")[..8];
        var siloPorts = Enumerable.Range(0, silos).Select(_ => FreeTcpPort()).ToArray();
        var cluster = new InProcessCluster();
        try
        {
            for (var i = 0; i < silos; i++)
            {
                var builder = Host.CreateApplicationBuilder();
                builder.Logging.ClearProviders();
                var (index, siloPort, primary) = (i, siloPorts[i], i == 0 ? null : new IPEndPoint(IPAddress.Loopback, siloPorts[0]));
                builder.UseOrleans(silo =>
                {
                    silo.UseLocalhostClustering(siloPort, FreeTcpPort(), primary, serviceId, serviceId);
                    storage.AddTo(silo);
                    configure?.Invoke(silo, index);
                });
                var host = builder.Build();
                await host.StartAsync(cancellationToken);
                cluster.hosts.Add(host);
            }
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(hosts))
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }
        hosts.Clear();
    }

    private static int FreeTcpPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
