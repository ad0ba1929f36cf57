using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Platform.Silo.Storage;

/// <summary>
/// Runs Azurite, the Azure Storage emulator, from the repository's pinned npm dependency
/// (`node_modules/.bin/azurite`). Bound to loopback; durable in a data folder or in memory.
/// </summary>
public sealed class AzuriteEmulator : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private AzuriteEmulator(Process process, StorageConnection connection)
    {
        _process = process;
        Connection = connection;
    }

    public StorageConnection Connection { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts Azurite for the blob, queue and table endpoints of <paramref name="connection"/> and waits until all three accept connections.</summary>
    /// <param name="dataDirectory">Durable data folder; null keeps everything in memory (tests).</param>
    public static async Task<AzuriteEmulator> StartAsync(StorageConnection connection, string? dataDirectory, CancellationToken cancellationToken = default)
    {
        if (!connection.IsLocalEmulator)
            throw new InvalidOperationException("Azurite only serves the local emulator account on loopback addresses.");
        var executable = FindExecutable()
            ?? throw new InvalidOperationException(
                "Azurite is not installed: run `npm ci` in the repository root (the build does this when node_modules is missing).");
        var queuePort = connection.QueueEndpoint?.Port ?? FreeTcpPort();
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--blobHost", "127.0.0.1", "--blobPort", connection.BlobEndpoint.Port.ToString(),
                     "--queueHost", "127.0.0.1", "--queuePort", queuePort.ToString(),
                     "--tableHost", "127.0.0.1", "--tablePort", connection.TableEndpoint.Port.ToString(),
                     // Newer Azure SDKs send API versions this Azurite may not list yet.
                     "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry", "--silent",
                 })
            info.ArgumentList.Add(arg);
        if (dataDirectory is null)
            info.ArgumentList.Add("--inMemoryPersistence");
        else
        {
            Directory.CreateDirectory(dataDirectory);
            info.ArgumentList.Add("--location");
            info.ArgumentList.Add(dataDirectory);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {executable}.");
        var emulator = new AzuriteEmulator(process, connection);
        process.OutputDataReceived += (_, e) => emulator.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => emulator.Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await emulator.WaitUntilListeningAsync(queuePort, cancellationToken);
        }
        catch
        {
            await emulator.DisposeAsync();
            throw;
        }
        return emulator;
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            if (_output.Count < 200) _output.Add(line);
        }
    }

    private async Task WaitUntilListeningAsync(int queuePort, CancellationToken cancellationToken)
    {
        var ports = new[] { Connection.BlobEndpoint.Port, queuePort, Connection.TableEndpoint.Port };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!ports.All(IsListening))
        {
            if (_process.HasExited)
            {
                string output;
                lock (_output) output = string.Join(Environment.NewLine, _output);
                throw new InvalidOperationException(
                    $"Azurite exited with code {_process.ExitCode} before listening on ports {string.Join(", ", ports)} (is another program using them?). Its output:{Environment.NewLine}{output}");
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Azurite did not listen on ports {string.Join(", ", ports)} within 60 s.");
            await Task.Delay(100, cancellationToken);
        }
    }

    public static bool IsListening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>True when something already answers on every port of the connection (another Azurite, or a real account's proxy).</summary>
    public static bool IsServed(StorageConnection connection) =>
        IsListening(connection.BlobEndpoint.Port) && IsListening(connection.TableEndpoint.Port);

    private static readonly HashSet<int> PortsHandedOut = [];

    /// <summary>
    /// A loopback port free now, chosen below the kernel's ephemeral range and never handed out twice by this process.
    /// </summary>
    /// <remarks>
    /// A port the kernel picks for port 0 comes from the ephemeral range, which every outgoing connection also draws
    /// its source port from; between choosing and binding, a client socket elsewhere could take it (a CI run saw
    /// `platform up` fail with "address already in use" on a port chosen that way).
    /// </remarks>
    public static int FreeTcpPort()
    {
        var (first, last) = PortRangeBelowEphemeral();
        for (var attempt = 0; attempt < 200 && last > first; attempt++)
        {
            var port = Random.Shared.Next(first, last);
            lock (PortsHandedOut)
            {
                if (PortsHandedOut.Contains(port) || !CanBind(port)) continue;
                PortsHandedOut.Add(port);
                return port;
            }
        }
        var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var chosen = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return chosen;
    }

    private static (int First, int Last) PortRangeBelowEphemeral()
    {
        const int lowest = 10_000;
        var ephemeralStart = 32_768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (range.Length >= 1 && int.TryParse(range[0], out var start)) ephemeralStart = start;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return (lowest, ephemeralStart);
    }

    private static bool CanBind(int port)
    {
        foreach (var address in new[] { System.Net.IPAddress.Loopback, System.Net.IPAddress.Any })
        {
            var listener = new TcpListener(address, port);
            try
            {
                listener.Start();
            }
            catch (SocketException)
            {
                return false;
            }
            finally
            {
                listener.Stop();
            }
        }
        return true;
    }

    /// <summary>The pinned Azurite, found by walking up from the program's folder and the working directory to a repository's node_modules.</summary>
    public static string? FindExecutable()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "node_modules", ".bin", "azurite");
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>
    /// Stops Azurite with SIGTERM so it saves its metadata database (it keeps it in memory between
    /// autosaves: a hard kill loses the latest writes), and kills it only if it does not exit in time.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            const int sigterm = 15;
            if (!OperatingSystem.IsWindows()) SendSignal(_process.Id, sigterm);
            using var graceful = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(graceful.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try { await _process.WaitForExitAsync(timeout.Token); }
                catch (OperationCanceledException) { /* the kill was sent; nothing more to do */ }
            }
        }
        _process.Dispose();
    }
}
