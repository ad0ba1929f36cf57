using System.Net.Http.Json;
using System.Text.Json;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;
using Platform.Tests.Ingestion;
using Platform.Tests.Training;

namespace Platform.Tests.Faults;

/// <summary>
/// What a machine crash does to the embedded default: `platform up` and the Azurite it started are SIGKILLed together right after
/// several submissions were acknowledged, then `platform up` starts again on the same state folder. Without the submission
/// journal's replay the jobs posted last are gone (checked by turning the replay off: the test then fails).
/// </summary>
public sealed class EmbeddedCrashTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("embedded-crash-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task Submissions_acknowledged_just_before_platform_up_and_its_Azurite_are_killed_are_known_and_complete_after_a_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Path.Combine(root, "state");
        Directory.CreateDirectory(data);
        var storage = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var gatewayPort = AzuriteEmulator.FreeTcpPort();
        var client = PlatformProcess.ClientEnvironment(storage, gatewayPort);
        string[] Inputs(string name, int seed) => IngestInputs.Write(Path.Combine(root, "in-" + name), files: 2, pagesPerFile: 10, seed: seed);

        var jobs = new List<(string Id, string Output)>();
        await using (var first = PlatformProcess.StartUp(storage: storage, dataDirectory: data, gatewayPort: gatewayPort))
        {
            using var http = new HttpClient { BaseAddress = first.BaseAddress };
            await first.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));
            var azurite = first.StartedAzuritePid();
            Assert.NotNull(azurite);
            // Through the command line: the job grain journals the submission before its state.
            var cliOutput = Path.Combine(root, "out-cli");
            var submitted = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(5), client, ["ingest", "submit", .. Inputs("cli", 4), "--dataset", "crash", "--out", cliOutput]);
            Assert.True(submitted.ExitCode == 0, submitted.StandardOutput + submitted.StandardError);
            jobs.Add((submitted.StandardOutput.Trim(), cliOutput));
            // Through the HTTP API, whose answer comes before the job exists at all (a Hangfire job submits it, in memory): only the
            // endpoint's journal line holds these two when the kill follows the last answer within milliseconds.
            var posted = await Task.WhenAll(new[] { ("api-a", 5), ("api-b", 6) }.Select(async job =>
            {
                var output = Path.Combine(root, "out-" + job.Item1);
                var inputs = Inputs(job.Item1, job.Item2);
                using var answer = await http.PostAsJsonAsync("/api/ingest/jobs", new { inputs, output, dataset = "crash-" + job.Item1, job = "crash-" + job.Item1 }, ct);
                Assert.True(answer.IsSuccessStatusCode, await answer.Content.ReadAsStringAsync(ct));
                return ("crash-" + job.Item1, output);
            }));
            // Within Azurite's 5 s between saves of its metadata: without the journal these jobs are gone after the restart.
            first.Process.Kill(entireProcessTree: true);
            await first.Process.WaitForExitAsync(ct);
            jobs.AddRange(posted);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (PlatformProcess.IsAlive(azurite.Value) && DateTime.UtcNow < deadline) await Task.Delay(50, ct);
            Assert.False(PlatformProcess.IsAlive(azurite.Value), "Azurite survived the kill");
        }
        Assert.True(File.Exists(Path.Combine(data, "azurite.journal", SubmissionJournal.IngestFile)));

        await using var second = PlatformProcess.StartUp(storage: storage, dataDirectory: data, gatewayPort: gatewayPort);
        using var api = new HttpClient { BaseAddress = second.BaseAddress };
        await second.WaitUntilHealthyAsync(api, TimeSpan.FromSeconds(120));
        var lost = 0;
        var until = DateTime.UtcNow.AddMinutes(2);
        foreach (var (jobId, output) in jobs)
        {
            var status = "";
            while (DateTime.UtcNow < until)
            {
                using var answer = await api.GetAsync($"/api/ingest/jobs/{jobId}", ct);
                status = await answer.Content.ReadAsStringAsync(ct);
                if (answer.IsSuccessStatusCode && JsonDocument.Parse(status).RootElement.GetProperty("phase").GetString() is "Completed" or "Failed") break;
                await Task.Delay(500, ct);
            }
            using var final = JsonDocument.Parse(status);
            if (!(final.RootElement.TryGetProperty("phase", out var phase) && phase.GetString() == "Completed"
                && final.RootElement.GetProperty("unitsDone").GetInt32() == 2 && File.ReadLines(Path.Combine(output, "candidates.jsonl")).Any()))
            {
                lost++;
                TestContext.Current.TestOutputHelper?.WriteLine($"{jobId}: {status}");
            }
        }
        FaultSuiteReport.Record("platform up killed with its Azurite (SIGKILL)", inputsTried: jobs.Count, faultsInjected: 1, dataLost: lost);
        Assert.True(lost == 0, $"{lost} of {jobs.Count} acknowledged submissions did not complete after the restart:\n{second.Output}");
    }

    /// <summary>
    /// The same crash right after two training runs were acknowledged, one by `train submit` (the scheduler journals it before its
    /// state) and one by `POST /api/train/runs` (answered before a Hangfire job in memory submits it): after the restart both are
    /// known and train to completion. Without the training journal's replay the runs are gone (checked by turning it off: the test then fails).
    /// </summary>
    [Fact]
    public async Task Training_runs_acknowledged_just_before_platform_up_and_its_Azurite_are_killed_are_known_and_complete_after_a_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Directory.CreateDirectory(Path.Combine(root, "state")).FullName;
        var storage = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var gatewayPort = AzuriteEmulator.FreeTcpPort();
        var environment = new Dictionary<string, string>
        {
            ["PLATFORM_Training__Devices"] = "cpu",
            ["PLATFORM_Training__CheckpointRoot"] = Path.Combine(root, "checkpoints"),
            ["PLATFORM_Training__BenchmarkData"] = Path.Combine(root, "benchmark"),
        };
        string[] runs = ["crash-cli", "crash-api"];
        await using (var first = PlatformProcess.StartUp(environment, storage, data, gatewayPort))
        {
            using var http = new HttpClient { BaseAddress = first.BaseAddress };
            await first.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));
            var azurite = first.StartedAzuritePid();
            Assert.NotNull(azurite);
            await TrainCommandDatasets.WriteAsync(storage.CreateBlobClient(), "web", Path.Combine(root, "web"), samples: 8, ct);
            await TrainCommandTests.WaitForDeviceAsync(http);
            // Past Azurite's next save of its metadata: the dataset survives the crash; what the test asks is whether the runs do.
            await Task.Delay(TimeSpan.FromSeconds(7), ct);

            var submitted = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(5), PlatformProcess.ClientEnvironment(storage, gatewayPort),
                ["train", "submit", "--dataset", "web", "--run", runs[0], "--steps", "3", "--batch", "4", "--warmup", "1", "--threads", "1", "--eval", "none"]);
            Assert.True(submitted.ExitCode == 0, submitted.StandardOutput + submitted.StandardError);
            using (var posted = await http.PostAsJsonAsync("/api/train/runs", new
            {
                runId = runs[1], dataset = "web", steps = 3, samplesPerStep = 4, warmupSteps = 1, threads = 1, evaluations = Array.Empty<object>(),
            }, ct))
                Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync(ct));
            // Within Azurite's 5 s between saves: without the journal both runs are gone after the restart.
            first.Process.Kill(entireProcessTree: true);
            await first.Process.WaitForExitAsync(ct);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (PlatformProcess.IsAlive(azurite.Value) && DateTime.UtcNow < deadline) await Task.Delay(50, ct);
            Assert.False(PlatformProcess.IsAlive(azurite.Value), "Azurite survived the kill");
        }
        Assert.True(File.Exists(Path.Combine(data, "azurite.journal", TrainingSubmissionJournal.TrainingFile)));

        await using var second = PlatformProcess.StartUp(environment, storage, data, gatewayPort);
        using var api = new HttpClient { BaseAddress = second.BaseAddress };
        await second.WaitUntilHealthyAsync(api, TimeSpan.FromSeconds(120));
        var lost = 0;
        var until = DateTime.UtcNow.AddMinutes(3);
        foreach (var run in runs)
        {
            var status = "";
            var phase = "";
            while (DateTime.UtcNow < until)
            {
                using var answer = await api.GetAsync($"/api/train/runs/{run}", ct);
                status = await answer.Content.ReadAsStringAsync(ct);
                phase = answer.IsSuccessStatusCode ? JsonDocument.Parse(status).RootElement.GetProperty("run").GetProperty("phase").GetString() ?? "" : "";
                if (phase is "Completed" or "Failed" or "Cancelled") break;
                await Task.Delay(500, ct);
            }
            if (phase != "Completed")
            {
                lost++;
                TestContext.Current.TestOutputHelper?.WriteLine($"{run}: {status}");
            }
        }
        FaultSuiteReport.Record("platform up killed with its Azurite just after training submissions (SIGKILL)", inputsTried: runs.Length, faultsInjected: 1, dataLost: lost);
        Assert.True(lost == 0, $"{lost} of {runs.Length} acknowledged training runs did not complete after the restart:\n{second.Output}");
    }
}
