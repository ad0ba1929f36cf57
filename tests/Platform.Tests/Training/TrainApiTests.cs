using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary><c>/api/train/runs</c> against a real `platform up` with one CPU device.</summary>
public sealed class TrainApiTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("train-api-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task Posting_a_bad_run_gives_400_naming_the_problem_and_queues_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var platform = await TrainCommandTests.StartWithOneCpuAsync(root);
        await TrainCommandDatasets.WriteAsync(platform.Storage.CreateBlobClient(), "web", Path.Combine(root, "web"), samples: 4, ct);
        var http = platform.Http;

        (object Body, string Message)[] cases =
        [
            (new { dataset = "no-such-dataset", steps = 3 }, "Dataset 'no-such-dataset' does not exist or has no committed shards."),
            (new { steps = 3 }, "Name the dataset to train on."),
            (new { dataset = "web", steps = 0 }, "Steps must be at least 1, not 0."),
            (new { dataset = "web", steps = 3, preset = "gigantic" }, "Unknown preset 'gigantic'"),
            (new { dataset = "web", steps = 3, devices = 3 }, "more than the cluster can ever offer: it has 1 cpu"),
            (new { dataset = "web", steps = 3, evaluations = new[] { new { task = "vqa", dataRoot = "benchmark" } } }, "the data folder 'benchmark' must be an absolute path"),
            (new { dataset = "web", steps = 3, evaluations = new[] { new { task = "vqa", dataRoot = Path.Combine(root, "missing") } } }, "cannot read the data folder"),
            (new { runId = "../up", dataset = "web", steps = 3 }, "Run id '../up' may hold only"),
            (new { dataset = "web", steps = 3, checkpointLocation = "https://elsewhere.blob.core.windows.net/checkpoints/run" }, "is not in the storage account"),
            (new { dataset = "web", steps = "many" }, "The body does not fit the training spec"),
            (new { dataset = "web", steps = 4, trainers = 2, syncEvery = 2, syncPrecision = "fp16" }, "SyncPrecision 'fp16' must be fp32 or bf16."),
            (new { dataset = "web", steps = 4, trainers = 2, syncEvery = 2, outerMomentum = 1.5 }, "OuterMomentum must be in [0, 1)"),
        ];
        foreach (var (body, message) in cases)
        {
            using var response = await http.PostAsJsonAsync("/api/train/runs", body, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{JsonSerializer.Serialize(body)} gave {response.StatusCode}: {text}");
            Assert.Contains(message, JsonDocument.Parse(text).RootElement.GetProperty("errors").ToString().Replace("\\u0027", "'"));
        }
        using (var notJson = await http.PostAsync("/api/train/runs", new StringContent("steps=3", Encoding.UTF8, "application/json"), ct))
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);

        using var runs = JsonDocument.Parse(await http.GetStringAsync("/api/train/runs", ct));
        Assert.Equal(0, runs.RootElement.GetProperty("runs").GetArrayLength());
        using (var missing = await http.GetAsync("/api/train/runs/no-such-run", ct))
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using (var cancelMissing = await http.PostAsync("/api/train/runs/no-such-run/cancel", null, ct))
            Assert.Equal(HttpStatusCode.NotFound, cancelMissing.StatusCode);
        Assert.DoesNotContain("TrainingSubmitJob", await http.GetStringAsync("/hangfire/jobs/succeeded", ct));
        Assert.DoesNotContain("TrainingSubmitJob", await http.GetStringAsync("/hangfire/jobs/enqueued", ct));
    }

    [Fact]
    public async Task A_posted_run_is_queued_by_a_hangfire_job_listed_by_the_api_and_train_list_paused_resumed_and_cancelled()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var platform = await TrainCommandTests.StartWithOneCpuAsync(root);
        await TrainCommandDatasets.WriteAsync(platform.Storage.CreateBlobClient(), "web", Path.Combine(root, "web"), samples: 8, ct);
        var http = platform.Http;
        // Long enough to be running while it is paused, resumed and cancelled.
        var spec = new { runId = "posted", dataset = "web", steps = 10_000, samplesPerStep = 4, warmupSteps = 1, threads = 1, checkpointEvery = 0, priority = 4, evaluations = Array.Empty<object>() };

        using (var posted = await http.PostAsJsonAsync("/api/train/runs", spec, ct))
        {
            Assert.True(posted.StatusCode == HttpStatusCode.Accepted, await posted.Content.ReadAsStringAsync(ct));
            Assert.Equal("/api/train/runs/posted", posted.Headers.Location?.OriginalString);
            using var body = JsonDocument.Parse(await posted.Content.ReadAsStringAsync(ct));
            Assert.Equal("posted", body.RootElement.GetProperty("run").GetString());
            Assert.False(body.RootElement.GetProperty("generatedRunId").GetBoolean());
        }

        await WaitForPhaseAsync(http, "posted", "Running");
        using var run = JsonDocument.Parse(await http.GetStringAsync("/api/train/runs/posted", ct));
        Assert.Equal("web", run.RootElement.GetProperty("spec").GetProperty("dataset").GetString());
        Assert.Equal(4, run.RootElement.GetProperty("run").GetProperty("priority").GetInt32());
        Assert.Contains("TrainingSubmitJob", await http.GetStringAsync("/hangfire/jobs/succeeded", ct));
        Assert.Contains("training-check-runs", await http.GetStringAsync("/hangfire/recurring", ct));

        // A single-trainer run has no DiLoCo rounds: 404 saying why, not 200 with nothing.
        using (var rounds = await http.GetAsync("/api/train/runs/posted/diloco", ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, rounds.StatusCode);
            Assert.Contains("trains with one trainer", await rounds.Content.ReadAsStringAsync(ct));
        }

        // The same run id again is the same run: nothing new is queued.
        using (var again = await http.PostAsJsonAsync("/api/train/runs", spec with { }, ct))
        using (var body = JsonDocument.Parse(await again.Content.ReadAsStringAsync(ct)))
        {
            Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
            Assert.True(body.RootElement.GetProperty("existing").GetBoolean());
        }
        using (var all = JsonDocument.Parse(await http.GetStringAsync("/api/train/runs", ct)))
            Assert.Equal(["posted"], all.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetString()));
        var list = await platform.RunAsync("train", "list");
        Assert.True(list.ExitCode == 0, list.Stderr);
        Assert.StartsWith("posted: Running, step ", list.Stdout.Trim());
        Assert.Contains(", priority 4, on cpu:0 on ", list.Stdout);

        var paused = await platform.RunAsync("train", "pause", "posted");
        Assert.True(paused.ExitCode == 0, paused.Stderr);
        Assert.StartsWith("posted: Paus", paused.Stdout);
        await WaitForPhaseAsync(http, "posted", "Paused");
        using (var status = JsonDocument.Parse(await http.GetStringAsync("/api/train/runs/posted", ct)))
            Assert.True(status.RootElement.GetProperty("checkpoints").GetArrayLength() > 0, $"pausing saved no checkpoint: {status.RootElement}");
        var resumed = await platform.RunAsync("train", "resume", "posted");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var resumedRun = await WaitForPhaseAsync(http, "posted", "Running");
        Assert.Equal(2, resumedRun.GetProperty("attempt").GetInt32());

        using (var cancelled = await http.PostAsync("/api/train/runs/posted/cancel", null, ct))
            Assert.True(cancelled.IsSuccessStatusCode, await cancelled.Content.ReadAsStringAsync(ct));
        await WaitForPhaseAsync(http, "posted", "Cancelled");
        // Finished runs follow the unfinished ones as many as asked for: none with finished=0; a count out of range is refused.
        using (var none = JsonDocument.Parse(await http.GetStringAsync("/api/train/runs?finished=0", ct)))
            Assert.Equal(0, none.RootElement.GetProperty("runs").GetArrayLength());
        using (var negative = await http.GetAsync("/api/train/runs?finished=-1", ct))
            Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
    }

    /// <summary>The run's summary from <c>GET /api/train/runs</c> once it is in <paramref name="phase"/>; fails after two minutes.</summary>
    private static async Task<JsonElement> WaitForPhaseAsync(HttpClient http, string runId, string phase)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        JsonElement? last = null;
        while (DateTime.UtcNow < deadline)
        {
            using var runs = JsonDocument.Parse(await http.GetStringAsync("/api/train/runs", TestContext.Current.CancellationToken));
            last = runs.RootElement.GetProperty("runs").EnumerateArray().Where(r => r.GetProperty("runId").GetString() == runId).Select(r => (JsonElement?)r.Clone()).FirstOrDefault();
            if (last is { } run && run.GetProperty("phase").GetString() == phase) return run;
            await Task.Delay(300, TestContext.Current.CancellationToken);
        }
        Assert.Fail($"run {runId} did not reach {phase}: {last}");
        return default;
    }
}
