using System.CommandLine;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;

namespace Platform.Silo.Cli;

public static class UpCommand
{
    public static Command Create()
    {
        var command = new Command("up", "Run the embedded platform (silo, Hangfire, dashboards) until Ctrl+C or SIGTERM.");
        var demo = new Option<bool>("--demo") { Description = "Run the demo on it first, as `platform demo` does with its defaults." };
        command.Options.Add(demo);
        command.SetAction(async (result, _) => result.GetValue(demo) ? await DemoCommand.RunAsync(DemoCommand.Defaults(), exitWhenDone: false) : await RunAsync());
        return command;
    }

    private static Task<int> RunAsync() => RunAsync(mission: null, exitWhenDone: false);

    /// <summary>
    /// Runs the embedded platform; with a <paramref name="mission"/>, starts it, runs the mission on it, then keeps serving
    /// until Ctrl+C or SIGTERM, or stops when <paramref name="exitWhenDone"/> (the exit code is the mission's).
    /// </summary>
    /// <param name="settingDefaults">Settings that take the place of the built-in defaults; appsettings.json and the environment still override them.</param>
    internal static async Task<int> RunAsync(Func<WebApplication, PlatformConfiguration, CancellationToken, Task<int>>? mission, bool exitWhenDone,
        IReadOnlyDictionary<string, string?>? settingDefaults = null)
    {
        var source = new ConfigurationBuilder();
        if (settingDefaults is not null) source.AddInMemoryCollection(settingDefaults);
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
            if (mission is null)
            {
                await app.RunAsync();
                return 0;
            }
            await app.StartAsync();
            var stopping = app.Lifetime.ApplicationStopping;
            int exitCode;
            try
            {
                exitCode = await mission(app, configuration, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                exitCode = 130;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException or System.Text.Json.JsonException)
            {
                // The platform itself is still up: say what broke and leave it serving (or stop it) as a finished mission would.
                Console.Error.WriteLine($"The mission stopped: {e.Message}");
                exitCode = 1;
            }
            if (!exitWhenDone && !stopping.IsCancellationRequested)
            {
                Console.WriteLine("Still serving; Ctrl+C stops the platform.");
                await app.WaitForShutdownAsync();
            }
            else
            {
                await app.StopAsync();
            }
            await app.DisposeAsync();
            return exitCode;
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
