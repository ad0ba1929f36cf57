using System.CommandLine;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;

namespace Platform.Silo.Cli;

public static class UpCommand
{
    public static Command Create()
    {
        var command = new Command("up", "Run the embedded platform (silo, Hangfire, dashboards) until Ctrl+C or SIGTERM.");
        command.SetAction(async (_, _) => await RunAsync());
        return command;
    }

    private static async Task<int> RunAsync()
    {
        var source = new ConfigurationBuilder();
        PlatformConfiguration.AddSources(source);
        var settings = source.Build();

        PlatformConfiguration configuration;
        try
        {
            configuration = PlatformConfiguration.Load(settings);
        }
        catch (PlatformConfigurationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        await using var emulator = await StartEmulatorIfNeededAsync(configuration);
        try
        {
            var app = PlatformHost.Build(configuration, settings);
            // The host's console lifetime turns Ctrl+C and SIGTERM into a graceful shutdown: the
            // silo leaves the cluster, Hangfire finishes its heartbeat, then Azurite is stopped.
            await app.RunAsync();
            return 0;
        }
        catch (PlatformConfigurationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
    }

    private static async Task<AzuriteEmulator?> StartEmulatorIfNeededAsync(PlatformConfiguration configuration)
    {
        var storage = configuration.StorageConnection;
        var mode = configuration.Storage.Emulator;
        if (mode == EmulatorMode.Never || !storage.IsLocalEmulator) return null;
        if (mode == EmulatorMode.Auto && AzuriteEmulator.IsServed(storage))
        {
            Console.WriteLine($"Storage: using the emulator already listening at {storage.BlobEndpoint.Authority}.");
            return null;
        }
        var dataPath = configuration.EmulatorDataPath();
        Console.WriteLine($"Storage: starting Azurite on 127.0.0.1 (blob {storage.BlobEndpoint.Port}, table {storage.TableEndpoint.Port}), data in {dataPath}.");
        var emulator = await AzuriteEmulator.StartAsync(storage, dataPath);
        Console.WriteLine($"Storage: Azurite running (pid {emulator.ProcessId}).");
        return emulator;
    }
}
