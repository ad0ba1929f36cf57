using Orleans.Configuration;

namespace Platform.Silo.Hosting;

/// <summary>
/// An Orleans client for a running platform (the embedded one or a cluster), configured from the
/// same settings as the silos, so commands such as `ingest submit` can reach grains from outside.
/// </summary>
public sealed class PlatformClient : IAsyncDisposable
{
    private readonly IHost _host;

    private PlatformClient(IHost host) => _host = host;

    public IClusterClient Cluster => _host.Services.GetRequiredService<IClusterClient>();

    public IGrainFactory Grains => Cluster;

    public static async Task<PlatformClient> ConnectAsync(PlatformConfiguration configuration, CancellationToken cancellationToken = default)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // Commands print results on stdout (`ingest submit` prints a job id for scripts); the host's start/stop lines would mix in.
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.UseOrleansClient(client =>
        {
            var clustering = configuration.Clustering;
            if (ClusterTls.Load(clustering) is { } certificate) client.UseTls(certificate, o => ClusterTls.Configure(o, certificate));
            if (clustering.Mode == ClusteringMode.Localhost)
                client.UseLocalhostClustering(clustering.GatewayPort, clustering.ServiceId, clustering.ClusterId);
            else
            {
                client.UseAzureStorageClustering(o => o.TableServiceClient = configuration.StorageConnection.CreateTableClient());
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clustering.ClusterId;
                    o.ServiceId = clustering.ServiceId;
                });
            }
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new PlatformClient(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
