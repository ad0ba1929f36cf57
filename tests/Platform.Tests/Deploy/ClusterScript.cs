using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Platform.Silo.Storage;

namespace Platform.Tests.Deploy;

/// <summary>
/// `deploy/cluster.sh` driven as a user drives it, in its own state folder and on its own ports, so it collides neither with
/// other tests nor with a developer's cluster. Disposing runs `down` if the test did not.
/// </summary>
internal sealed class ClusterScript : IAsyncDisposable
{
    private readonly Dictionary<string, string> environment;
    private bool up;

    /// <param name="settings">`CLUSTER_*` and `PLATFORM_*` variables beyond the state folder and ports.</param>
    public ClusterScript(string stateDirectory, IReadOnlyDictionary<string, string> settings, int silos)
    {
        StateDirectory = stateDirectory;
        Silos = silos;
        BasePort = FreeBasePort(silos);
        environment = new Dictionary<string, string>(settings)
        {
            ["CLUSTER_STATE"] = stateDirectory,
            ["CLUSTER_BASE_PORT"] = BasePort.ToString(),
            // A publish folder of the tests' own, kept between runs: `up` republishes only when sources changed, and never
            // overwrites the binaries of a developer's cluster running from .state/cluster/publish.
            ["CLUSTER_PUBLISH"] = Path.Combine(RepositoryRoot, ".state", "cluster-test", "publish"),
        };
    }

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public string StateDirectory { get; }
    public int Silos { get; }
    public int BasePort { get; }

    /// <summary>The script's port layout: Azurite on BASE..BASE+2, silo i on BASE+10i (silo), +1 (gateway), +2 (web).</summary>
    public int SiloPort(int silo) => BasePort + 10 * silo;
    public Uri Web(int silo) => new($"http://127.0.0.1:{BasePort + 10 * silo + 2}");
    public StorageConnection Storage => StorageConnection.ForEmulator("127.0.0.1", BasePort, BasePort + 1, BasePort + 2);

    /// <summary>Every port the cluster listens on: Azurite's three and each silo's silo, gateway and web ports.</summary>
    public IEnumerable<int> Ports => new[] { BasePort, BasePort + 1, BasePort + 2 }
        .Concat(Enumerable.Range(1, Silos).SelectMany(i => new[] { SiloPort(i), SiloPort(i) + 1, SiloPort(i) + 2 }));

    public async Task<string> UpAsync()
    {
        up = true;
        return await RunAsync(TimeSpan.FromMinutes(12), "up", Silos.ToString());
    }

    public async Task<string> DownAsync()
    {
        var output = await RunAsync(TimeSpan.FromMinutes(3), "down");
        up = false;
        return output;
    }

    /// <summary>The processes `up` recorded, as (pid, start time) by the file's name (`silo-1`, `azurite`).</summary>
    public Dictionary<string, (int Pid, string StartTime)> RecordedProcesses() =>
        Directory.GetFiles(StateDirectory, "*.pid").ToDictionary(f => Path.GetFileNameWithoutExtension(f), f =>
        {
            var fields = File.ReadAllText(f).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return (int.Parse(fields[0]), fields[1]);
        });

    /// <summary>Whether the process that was recorded still runs: same pid and start time, and not a zombie (which has exited).</summary>
    public static bool IsRunning((int Pid, string StartTime) process)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{process.Pid}/stat"); }
        catch (IOException) { return false; }
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields[0] != "Z" && fields[19] == process.StartTime;
    }

    public static bool IsListening(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task<string> RunAsync(TimeSpan timeout, params string[] arguments)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot,
        };
        info.ArgumentList.Add(Path.Combine(RepositoryRoot, "deploy", "cluster.sh"));
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment) info.Environment[key] = value;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"cluster.sh {string.Join(' ', arguments)} ran past {timeout}: {await stdout}{await stderr}");
        }
        var output = await stdout + await stderr;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"cluster.sh {string.Join(' ', arguments)} exited with {process.ExitCode}:{Environment.NewLine}{output}{Logs()}");
        return output;
    }

    /// <summary>The end of each silo's log, for a failure message.</summary>
    public string Logs() => string.Concat(Directory.GetFiles(StateDirectory, "silo-*.log").Order(StringComparer.Ordinal).Select(log =>
        $"{Environment.NewLine}--- {Path.GetFileName(log)}{Environment.NewLine}{string.Join(Environment.NewLine, File.ReadLines(log).TakeLast(30))}"));

    /// <summary>A base port below the ephemeral range whose whole layout is free now; random, so parallel runs rarely pick the same.</summary>
    private static int FreeBasePort(int silos)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var candidate = 20_000 + Random.Shared.Next(0, 120) * 100;
            var ports = new[] { candidate, candidate + 1, candidate + 2 }
                .Concat(Enumerable.Range(1, silos).SelectMany(i => new[] { candidate + 10 * i, candidate + 10 * i + 1, candidate + 10 * i + 2 }));
            if (ports.All(IsFree)) return candidate;
        }
        throw new InvalidOperationException("no free block of ports for the cluster");
    }

    private static bool IsFree(int port)
    {
        try
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Platform.sln above {AppContext.BaseDirectory}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!up) return;
        try
        {
            await DownAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // The test already failed; its own assertion says more than a failed cleanup would.
        }
    }
}
