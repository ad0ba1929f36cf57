using Platform.Silo.Storage;

namespace Platform.Tests.Infrastructure;

/// <summary>`platform up` answering its health check, and the client commands run against it.</summary>
internal sealed class RunningPlatform(PlatformProcess process, int gatewayPort) : IAsyncDisposable
{
    public StorageConnection Storage => process.Storage;
    public HttpClient Http { get; } = new() { BaseAddress = process.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
    public Uri BaseAddress => process.BaseAddress;
    public int GatewayPort => gatewayPort;

    /// <param name="environment">Settings of the platform beyond the test defaults, e.g. `PLATFORM_Training__Devices`.</param>
    public static async Task<RunningPlatform> StartAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var gatewayPort = AzuriteEmulator.FreeTcpPort();
            var process = PlatformProcess.StartUp(environment, gatewayPort: gatewayPort);
            var platform = new RunningPlatform(process, gatewayPort);
            try
            {
                await process.WaitUntilHealthyAsync(platform.Http, TimeSpan.FromSeconds(120));
                return platform;
            }
            catch (InvalidOperationException) when (attempt < 3 && process.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                // Another process took a chosen port between choosing and binding; fresh ports are the remedy, not a failure of the platform.
                await platform.DisposeAsync();
            }
            catch
            {
                await platform.DisposeAsync();
                throw;
            }
        }
    }

    public Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => RunWithAsync(null, args);

    /// <param name="environment">Settings of the client beyond those that reach this platform.</param>
    public async Task<(int ExitCode, string Stdout, string Stderr)> RunWithAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var settings = new Dictionary<string, string>(PlatformProcess.ClientEnvironment(process.Storage, gatewayPort));
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) settings[key] = value;
        var result = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(10), settings, args);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await process.DisposeAsync();
    }
}
