using System.Net.Http.Json;
using System.Text.Json;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>`platform train submit|status|list|cancel` against a real `platform up` with one CPU device.</summary>
public sealed class TrainCommandTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("train-command-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>A platform offering one CPU slot, checkpointing under this test's folder, once its silo lists its device.</summary>
    internal static async Task<RunningPlatform> StartWithOneCpuAsync(string root)
    {
        var platform = await RunningPlatform.StartAsync(new Dictionary<string, string>
        {
            ["PLATFORM_Training__Devices"] = "cpu",
            ["PLATFORM_Training__CheckpointRoot"] = Path.Combine(root, "checkpoints"),
            ["PLATFORM_Training__BenchmarkData"] = Path.Combine(root, "benchmark"),
        });
        try
        {
            await WaitForDeviceAsync(platform.Http);
            return platform;
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
    }

    /// <summary>Returns once `/api/devices` lists a device; fails after a minute.</summary>
    internal static async Task WaitForDeviceAsync(HttpClient http)
    {
        // The silo reads its own metadata through its metadata cache, which fills in just after it joins.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (DateTime.UtcNow < deadline)
        {
            using var devices = JsonDocument.Parse(await http.GetStringAsync("/api/devices", TestContext.Current.CancellationToken));
            if (devices.RootElement.GetProperty("devices").GetArrayLength() > 0) return;
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException("the platform listed no device within a minute");
    }

    private static string[] Submit(params string[] options) => ["train", "submit", "--steps", "3", "--batch", "4", "--warmup", "1", "--threads", "1", .. options];

    [Fact]
    public async Task Submit_refuses_every_bad_run_with_exit_code_2_and_a_clear_message_and_queues_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var platform = await StartWithOneCpuAsync(root);
        var blobs = platform.Storage.CreateBlobClient();
        await TrainCommandDatasets.WriteAsync(blobs, "web", Path.Combine(root, "web"), samples: 4, ct);
        await TrainCommandDatasets.WriteEmptyAsync(blobs, "empty", ct);
        var noAnnotations = Directory.CreateDirectory(Path.Combine(root, "no-annotations")).FullName;

        (string[] Args, string Message)[] cases =
        [
            (Submit("--dataset", "no-such-dataset"), "Dataset 'no-such-dataset' does not exist or has no committed shards."),
            (Submit("--dataset", "empty"), "Dataset 'empty' does not exist or has no committed shards."),
            (Submit("--dataset", "web", "--preset", "gigantic"), "Unknown preset 'gigantic'; expected 'tiny', 'base', 'large', 'huge'."),
            (["train", "submit", "--dataset", "web", "--steps", "0"], "Steps must be at least 1, not 0."),
            (Submit("--dataset", "web", "--devices", "2"), "The run asks for 2 devices of one kind, more than the cluster can ever offer: it has 1 cpu"),
            (Submit("--dataset", "web", "--device-kind", "cuda"), "The run asks for 1 cuda device of one kind, more than the cluster can ever offer: it has 1 cpu"),
            (Submit("--dataset", "web", "--eval", "vqa"), "--eval needs --eval-data DIR"),
            (Submit("--dataset", "web", "--eval", "coco-captions", "--eval-data", Path.Combine(root, "missing")), "cannot read the data folder"),
            (Submit("--dataset", "web", "--eval", "vqa", "--eval-data", noAnnotations), $"Evaluation vqa: cannot read split 'test' of the data folder '{noAnnotations}'"),
            (Submit("--dataset", "web", "--eval", "captions", "--eval-data", noAnnotations), "Unknown task 'captions'; expected coco-captions, vqa, retrieval, snli-ve, nlvr2, nocaps."),
            (Submit("--dataset", "web", "--run", "my run"), "Run id 'my run' may hold only ASCII letters, digits, '.', '-' and '_'."),
        ];
        foreach (var (args, message) in cases)
        {
            var (exitCode, stdout, stderr) = await platform.RunAsync(args);
            Assert.True(exitCode == 2, $"{string.Join(' ', args)} gave {exitCode}: {stdout}{stderr}");
            Assert.Contains(message, stderr);
            Assert.Equal("", stdout);
            Assert.DoesNotContain("the run's id is", stderr);
        }

        foreach (var command in new[] { "status", "cancel", "pause", "resume" })
        {
            var unknown = await platform.RunAsync("train", command, "no-such-run");
            Assert.True(unknown.ExitCode == 1, $"train {command} of an unknown run gave {unknown.ExitCode}: {unknown.Stderr}");
            Assert.Contains("No training run 'no-such-run'", unknown.Stderr);
        }
        var list = await platform.RunAsync("train", "list");
        Assert.True(list.ExitCode == 0, list.Stderr);
        Assert.Equal("", list.Stdout);
        Assert.Contains("No training runs", list.Stderr);
        using var runs = JsonDocument.Parse(await platform.Http.GetStringAsync("/api/train/runs", ct));
        Assert.Equal(0, runs.RootElement.GetProperty("runs").GetArrayLength());
    }

    [Fact]
    public async Task A_run_submitted_from_the_command_line_trains_to_completed_with_the_default_evaluations_and_status_shows_its_progress()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var platform = await StartWithOneCpuAsync(root);
        await TrainCommandDatasets.WriteAsync(platform.Storage.CreateBlobClient(), "web", Path.Combine(root, "web"), samples: 8, ct);

        var submitted = await platform.RunAsync(Submit("--dataset", "web", "--checkpoint-every", "2"));
        Assert.True(submitted.ExitCode == 0, submitted.Stdout + submitted.Stderr);
        var runId = submitted.Stdout.Trim();
        Assert.Contains($"No --run given: the run's id is {runId}.", submitted.Stderr);
        Assert.Matches(@"^run-\d{8}-\d{6}-[0-9a-f]{6}$", runId);

        var deadline = DateTime.UtcNow.AddMinutes(5);
        (int ExitCode, string Stdout, string Stderr) status;
        do status = await platform.RunAsync("train", "status", runId);
        while (!status.Stdout.StartsWith($"{runId}: Completed", StringComparison.Ordinal) && status.ExitCode == 0 && DateTime.UtcNow < deadline);
        Assert.True(status.Stdout.StartsWith($"{runId}: Completed [##############################] 100% step 3/3, loss ", StringComparison.Ordinal),
            status.Stdout + status.Stderr);
        Assert.Contains("  checkpoints: step 2, step 3", status.Stdout);
        // No --eval: each checkpoint is handed to captioning and VQA on the benchmark generated in Training:BenchmarkData.
        Assert.Contains(status.Stdout.Split('\n'), line => line.StartsWith("  coco-captions: step 2", StringComparison.Ordinal));
        Assert.Contains(status.Stdout.Split('\n'), line => line.StartsWith("  vqa: step 2", StringComparison.Ordinal));
        Assert.Contains($"checkpoints in {Path.Combine(root, "checkpoints", runId)}", status.Stdout);

        var again = await platform.RunAsync(Submit("--dataset", "web", "--run", runId));
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal(runId, again.Stdout.Trim());
        Assert.Contains($"Run {runId} was submitted before; it is unchanged. {runId}: Completed, step 3/3", again.Stderr);

        var list = await platform.RunAsync("train", "list");
        Assert.StartsWith($"{runId}: Completed, step 3/3, priority 0", list.Stdout.Trim());
        using var run = await platform.Http.GetFromJsonAsync<JsonDocument>($"/api/train/runs/{runId}", ct);
        Assert.Equal("Completed", run!.RootElement.GetProperty("run").GetProperty("phase").GetString());
        Assert.Equal(3, run.RootElement.GetProperty("latest").GetProperty("step").GetInt32());
        var evaluations = run.RootElement.GetProperty("spec").GetProperty("evaluations").EnumerateArray().ToArray();
        Assert.Equal(["coco-captions", "vqa"], evaluations.Select(e => e.GetProperty("task").GetString()));
        Assert.All(evaluations, e => Assert.Equal((Path.Combine(root, "benchmark"), 50), (e.GetProperty("dataRoot").GetString(), e.GetProperty("maxImages").GetInt32())));
        Assert.True(File.Exists(Path.Combine(root, "benchmark", "annotations", "captions_test.json")));

        var quiet = await platform.RunAsync(Submit("--dataset", "web", "--run", "no-evaluations", "--eval", "none"));
        Assert.True(quiet.ExitCode == 0, quiet.Stderr);
        using var quietRun = await platform.Http.GetFromJsonAsync<JsonDocument>("/api/train/runs/no-evaluations", ct);
        Assert.Equal(0, quietRun!.RootElement.GetProperty("spec").GetProperty("evaluations").GetArrayLength());
    }
}
