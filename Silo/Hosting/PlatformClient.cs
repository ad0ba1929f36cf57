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

    /// <param name="giveUpAfter">
    /// How long to keep trying when no gateway answers; null keeps Orleans' own retries (minutes). A command run by a
    /// person gives up sooner and says why, since a platform that is not running will not start by itself.
    /// </param>
    public static async Task<PlatformClient> ConnectAsync(PlatformConfiguration configuration, CancellationToken cancellationToken = default,
        TimeSpan? giveUpAfter = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (giveUpAfter is not null)
        {
            // Each failed attempt is a warning with a stack trace, and the host logs the final failure again; the caller says it once.
            builder.Logging.AddFilter("Orleans", LogLevel.Error);
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        }
        // Commands print results on stdout (`ingest submit` prints a job id for scripts); the host's start/stop lines would mix in.
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.UseOrleansClient(client =>
        {
            var clustering = configuration.Clustering;
            if (giveUpAfter is { } patience) client.UseConnectionRetryFilter(new RetryUntil(patience));
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

    /// <summary>Retries a failed connection every second until <paramref name="patience"/> has passed since the first failure.</summary>
    private sealed class RetryUntil(TimeSpan patience) : IClientConnectionRetryFilter
    {
        private System.Diagnostics.Stopwatch? _failing;

        public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
        {
            _failing ??= System.Diagnostics.Stopwatch.StartNew();
            if (_failing.Elapsed >= patience) return false;
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
