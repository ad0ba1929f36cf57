using Microsoft.Extensions.Logging.Console;
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
        // A start that fails is reported by the command in one line (or rethrown); the host's own stack trace would bury it.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        // Commands print results on stdout (`ingest submit` prints a job id for scripts); the host's start/stop lines would mix in.
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // And so would the client's log (a warning per failed connection attempt): all of it goes to stderr, an entry per line so
        // that it is told apart from the command's own line there.
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        var attempts = new RememberedAttempts();
        builder.UseOrleansClient(client =>
        {
            var clustering = configuration.Clustering;
            client.UseConnectionRetryFilter(attempts);
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
        using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connecting.CancelAfter(configuration.Clustering.ClientConnectTimeout);
        try
        {
            await host.StartAsync(connecting.Token);
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested
            && error is OperationCanceledException or Orleans.Runtime.Messaging.ConnectionFailedException or SiloUnavailableException)
        {
            host.Dispose();
            throw new PlatformUnreachableException(Unreachable(configuration, attempts.LastFailure ?? Innermost(error).Message), error);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new PlatformClient(host);
    }

    /// <summary>
    /// Retries every failed connection until the connect timeout cancels the start, remembering why the last one failed,
    /// for the one line a command prints (Orleans' own warnings about each attempt go to the log).
    /// </summary>
    private sealed class RememberedAttempts : IClientConnectionRetryFilter
    {
        public string? LastFailure { get; private set; }

        public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
        {
            LastFailure = Innermost(exception).Message;
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            return true;
        }
    }

    private static Exception Innermost(Exception error)
    {
        while (error.InnerException is not null) error = error.InnerException;
        return error;
    }

    private static string Unreachable(PlatformConfiguration configuration, string lastFailure)
    {
        var clustering = configuration.Clustering;
        var gateway = clustering.Mode == ClusteringMode.Localhost
            ? $"the gateway at 127.0.0.1:{clustering.GatewayPort}"
            : $"a gateway of cluster '{clustering.ClusterId}' (listed in the storage's membership table)";
        var tls = SettingsValidation.Name(ClusteringSettings.Section, nameof(ClusteringSettings.TlsCertificate));
        return $"Could not reach {gateway} in {clustering.ClientConnectTimeout}: is the platform running there (`platform up` starts one), and is {tls} the cluster's own "
            + $"certificate (empty when the cluster has none)? {SettingsValidation.Name(ClusteringSettings.Section, nameof(ClusteringSettings.ClientConnectTimeout))} sets how long to try. Last attempt: {lastFailure.TrimEnd('.')}.";
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>No gateway of the platform took the client within <see cref="ClusteringSettings.ClientConnectTimeout"/>; the message says what to check.</summary>
public sealed class PlatformUnreachableException(string message, Exception inner) : Exception(message, inner);
