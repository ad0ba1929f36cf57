using System.Diagnostics;
using System.Runtime.InteropServices;
using Platform.Silo.Storage;

namespace Platform.Tests.Infrastructure;

/// <summary>The real `platform` executable run as a child process on free loopback ports.</summary>
public sealed class PlatformProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private bool _ownsDataDirectory;

    private PlatformProcess(Process process, Uri baseAddress, StorageConnection storage, string dataDirectory)
    {
        _process = process;
        BaseAddress = baseAddress;
        Storage = storage;
        DataDirectory = dataDirectory;
    }

    public const string ServiceId = "process-test";

    public Uri BaseAddress { get; }
    public StorageConnection Storage { get; }
    public string DataDirectory { get; }
    public Process Process => _process;

    public string Output
    {
        get { lock (_output) return string.Join(Environment.NewLine, _output); }
    }

    /// <summary>Starts `platform up` with its own storage ports, so it must start (and later stop) its own Azurite.</summary>
    /// <param name="storage">Emulator endpoints; fresh free ports when null.</param>
    /// <param name="dataDirectory">Working folder holding Azurite's data; a fresh temporary one when null.</param>
    public static PlatformProcess StartUp(IReadOnlyDictionary<string, string>? extraEnvironment = null,
        StorageConnection? storage = null, string? dataDirectory = null, int? gatewayPort = null)
    {
        var webPort = AzuriteEmulator.FreeTcpPort();
        storage ??= StorageConnection.ForEmulator("127.0.0.1",
            AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var ownsDataDirectory = dataDirectory is null;
        dataDirectory ??= Directory.CreateTempSubdirectory("platform-up-").FullName;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "platform.dll"));
        info.ArgumentList.Add("up");
        info.Environment["PLATFORM_Storage__ConnectionString"] = storage.ConnectionString;
        info.Environment["PLATFORM_Storage__EmulatorDataDirectory"] = Path.Combine(dataDirectory, "azurite");
        info.Environment["PLATFORM_Web__Urls"] = $"http://127.0.0.1:{webPort}";
        info.Environment["PLATFORM_Clustering__SiloPort"] = AzuriteEmulator.FreeTcpPort().ToString();
        info.Environment["PLATFORM_Clustering__GatewayPort"] = (gatewayPort ?? AzuriteEmulator.FreeTcpPort()).ToString();
        info.Environment["PLATFORM_Clustering__ServiceId"] = ServiceId;
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in extraEnvironment ?? new Dictionary<string, string>())
            info.Environment[key] = value;

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
        var platform = new PlatformProcess(process, new Uri($"http://127.0.0.1:{webPort}"), storage, dataDirectory) { _ownsDataDirectory = ownsDataDirectory };
        process.OutputDataReceived += (_, e) => platform.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => platform.Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return platform;
    }

    /// <summary>What a `platform` client command needs to reach a platform started on this storage and gateway port.</summary>
    public static IReadOnlyDictionary<string, string> ClientEnvironment(StorageConnection storage, int gatewayPort) => new Dictionary<string, string>
    {
        ["PLATFORM_Storage__ConnectionString"] = storage.ConnectionString,
        ["PLATFORM_Clustering__GatewayPort"] = gatewayPort.ToString(),
        ["PLATFORM_Clustering__ServiceId"] = ServiceId,
    };

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Add(line);
    }

    /// <summary>Polls /healthz until it answers 200 with every check Healthy.</summary>
    public async Task<string> WaitUntilHealthyAsync(HttpClient http, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"platform up exited with {_process.ExitCode}:{Environment.NewLine}{Output}");
            try
            {
                using var response = await http.GetAsync(new Uri(BaseAddress, "/healthz"));
                last = await response.Content.ReadAsStringAsync();
                if (response.IsSuccessStatusCode && !last.Contains("\"Degraded\"", StringComparison.Ordinal) && !last.Contains("\"Unhealthy\"", StringComparison.Ordinal))
                    return last;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"/healthz did not become healthy in {timeout}. Last answer: {last}{Environment.NewLine}{Output}");
    }

    /// <summary>The pid of the Azurite that `platform up` says it started.</summary>
    public int? StartedAzuritePid()
    {
        const string marker = "Azurite running (pid ";
        var line = Output.Split(Environment.NewLine).FirstOrDefault(l => l.Contains(marker, StringComparison.Ordinal));
        if (line is null) return null;
        var start = line.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        return int.Parse(line[start..line.IndexOf(')', start)]);
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SysKill(int pid, int signal);

    public void SendSigterm()
    {
        const int sigterm = 15;
        if (SysKill(_process.Id, sigterm) != 0)
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Sends SIGTERM and waits for a clean exit.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        SendSigterm();
        using var exited = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(exited.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (_ownsDataDirectory && Directory.Exists(DataDirectory))
            Directory.Delete(DataDirectory, recursive: true);
    }
}
