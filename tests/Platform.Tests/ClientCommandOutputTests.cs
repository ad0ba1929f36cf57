using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;
using Platform.Tests.Ingestion;

namespace Platform.Tests;

/// <summary>
/// A client command's standard output carries only what the command prints, so a script can take it (`id=$(platform ingest submit ...)`);
/// the Orleans client's log goes to standard error.
/// </summary>
public sealed class ClientCommandOutputTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("client-output-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task Ingest_submit_that_waited_for_its_gateway_prints_only_the_job_id_on_stdout_and_the_clients_warnings_on_stderr()
    {
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 1, pagesPerFile: 4, seed: 3);
        var gateway = AzuriteEmulator.FreeTcpPort();
        var storage = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var client = new Dictionary<string, string>(PlatformProcess.ClientEnvironment(storage, gateway)) { ["PLATFORM_Clustering__ClientConnectTimeout"] = "00:03:00" };

        // Submitted before the platform starts: the client's first attempts find no gateway, and Orleans logs each as a warning.
        var submitting = PlatformCommand.RunAsync(TimeSpan.FromMinutes(4), client,
            ["ingest", "submit", .. inputs, "--dataset", "web", "--out", Path.Combine(root, "out"), "--job", "scripted"]);
        await using var platform = PlatformProcess.StartUp(storage: storage, gatewayPort: gateway);
        var submitted = await submitting;

        Assert.True(submitted.ExitCode == 0, submitted.StandardOutput + submitted.StandardError);
        Assert.Equal("scripted" + Environment.NewLine, submitted.StandardOutput);
        // What the client logged while no gateway answered went to stderr, an entry per line.
        Assert.Contains("warn: Orleans.Runtime.Messaging.ConnectionManager", submitted.StandardError);
        Assert.StartsWith("scripted: ", Assert.Single(submitted.OwnErrorLines));
    }
}
