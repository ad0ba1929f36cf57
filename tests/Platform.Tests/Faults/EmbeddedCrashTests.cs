using Platform.Silo.Hosting;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;
using Platform.Tests.Ingestion;

namespace Platform.Tests.Faults;

/// <summary>
/// What a machine crash does to the embedded default: `platform up` and the Azurite it started are SIGKILLed together right after
/// a submission was acknowledged, then `platform up` starts again on the same state folder.
/// </summary>
public sealed class EmbeddedCrashTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("embedded-crash-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task A_submission_acknowledged_just_before_platform_up_and_its_Azurite_are_killed_is_known_and_completes_after_a_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 10, seed: 4);
        var output = Path.Combine(root, "out");
        var data = Path.Combine(root, "state");
        Directory.CreateDirectory(data);
        var storage = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var gatewayPort = AzuriteEmulator.FreeTcpPort();
        var client = PlatformProcess.ClientEnvironment(storage, gatewayPort);

        string jobId;
        await using (var first = PlatformProcess.StartUp(storage: storage, dataDirectory: data, gatewayPort: gatewayPort))
        {
            using var http = new HttpClient { BaseAddress = first.BaseAddress };
            await first.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));
            var azurite = first.StartedAzuritePid();
            Assert.NotNull(azurite);
            var submitted = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(5), client, ["ingest", "submit", .. inputs, "--dataset", "crash", "--out", output]);
            Assert.True(submitted.ExitCode == 0, submitted.StandardOutput + submitted.StandardError);
            jobId = submitted.StandardOutput.Trim();
            // Within Azurite's 5 s between saves of its metadata: without the journal the job is gone after the restart.
            first.Process.Kill(entireProcessTree: true);
            await first.Process.WaitForExitAsync(ct);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (PlatformProcess.IsAlive(azurite.Value) && DateTime.UtcNow < deadline) await Task.Delay(50, ct);
            Assert.False(PlatformProcess.IsAlive(azurite.Value), "Azurite survived the kill");
        }
        Assert.True(File.Exists(Path.Combine(data, "azurite.journal", SubmissionJournal.IngestFile)));

        await using var second = PlatformProcess.StartUp(storage: storage, dataDirectory: data, gatewayPort: gatewayPort);
        using (var http = new HttpClient { BaseAddress = second.BaseAddress })
            await second.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));
        var until = DateTime.UtcNow.AddMinutes(2);
        PlatformCommand.Result status;
        do
        {
            status = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(2), client, ["ingest", "status", jobId]);
            if (status.StandardOutput.Contains(": Completed,", StringComparison.Ordinal)) break;
            await Task.Delay(500, ct);
        }
        while (DateTime.UtcNow < until);
        Assert.True(status.StandardOutput.Contains($"{jobId}: Completed, 2/2 units done", StringComparison.Ordinal), status.StandardOutput + status.StandardError + second.Output);
        Assert.True(File.ReadLines(Path.Combine(output, "candidates.jsonl")).Any());
        FaultSuiteReport.Record("platform up killed with its Azurite (SIGKILL)", inputsTried: 1, faultsInjected: 1, dataLost: 0);
    }
}
