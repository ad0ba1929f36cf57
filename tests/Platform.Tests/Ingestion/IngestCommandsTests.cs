using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

/// <summary>`platform ingest submit` and `status` as real processes against a running `platform up`.</summary>
public sealed class IngestCommandsTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-cli-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunPlatformAsync(StorageConnection storage, int gatewayPort, params string[] args)
    {
        var result = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(10), PlatformProcess.ClientEnvironment(storage, gatewayPort), args);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    [Fact]
    public async Task Submit_prints_a_job_id_that_status_follows_to_completion_and_a_repeated_submit_finds_the_same_job()
    {
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 10, seed: 4);
        var output = Path.Combine(root, "out");
        var gatewayPort = Platform.Silo.Storage.AzuriteEmulator.FreeTcpPort();
        await using var platform = PlatformProcess.StartUp(gatewayPort: gatewayPort);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        await platform.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));

        string[] submit = ["ingest", "submit", .. inputs, "--dataset", "web", "--out", output];
        var first = await RunPlatformAsync(platform.Storage, gatewayPort, submit);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var jobId = first.Stdout.Trim();
        Assert.True(jobId.StartsWith("ingest-", StringComparison.Ordinal), first.Stdout + first.Stderr);
        var again = await RunPlatformAsync(platform.Storage, gatewayPort, submit);
        Assert.Equal(jobId, again.Stdout.Trim());

        var deadline = DateTime.UtcNow.AddMinutes(1);
        (int ExitCode, string Stdout, string Stderr) status;
        do status = await RunPlatformAsync(platform.Storage, gatewayPort, "ingest", "status", jobId);
        while (!status.Stdout.Contains(": Completed,", StringComparison.Ordinal) && DateTime.UtcNow < deadline);
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains($"{jobId}: Completed, 2/2 units done, 0 restarts", status.Stdout);
        Assert.Contains($"{File.ReadLines(Path.Combine(output, "candidates.jsonl")).Count()} kept", status.Stdout);

        var unknown = await RunPlatformAsync(platform.Storage, gatewayPort, "ingest", "status", "no-such-job");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("No ingest job 'no-such-job'", unknown.Stderr);
    }
}
