using System.Net.Http.Json;
using System.Text.Json;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

/// <summary>`platform ingest submit` and `status` as real processes against a running `platform up`.</summary>
public sealed class IngestCommandsTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-cli-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>
    /// Waits over HTTP, then the test runs `ingest status` once: polling with the command started a process (seconds under load)
    /// for every look, and only the last one was asserted on.
    /// </summary>
    private static Task WaitUntilOverAsync(RunningPlatform platform, string jobId) => Training.TrainingKillTests.WaitUntilAsync(async () =>
    {
        using var response = await platform.Http.GetAsync($"/api/ingest/jobs/{jobId}", TestContext.Current.CancellationToken);
        if (!response.IsSuccessStatusCode) return false;
        using var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        return status.RootElement.GetProperty("isOver").GetBoolean();
    }, $"ingest job {jobId} to end", TimeSpan.FromMinutes(1));

    [Fact]
    public async Task Submit_prints_a_job_id_that_status_follows_to_completion_and_a_repeated_submit_finds_the_same_job()
    {
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 10, seed: 4);
        var output = Path.Combine(root, "out");
        await using var platform = await RunningPlatform.StartAsync();

        string[] submit = ["ingest", "submit", .. inputs, "--dataset", "web", "--out", output];
        var first = await platform.RunAsync(submit);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var jobId = first.Stdout.Trim();
        Assert.True(jobId.StartsWith("ingest-", StringComparison.Ordinal), first.Stdout + first.Stderr);
        var again = await platform.RunAsync(submit);
        Assert.Equal(jobId, again.Stdout.Trim());

        await WaitUntilOverAsync(platform, jobId);
        var status = await platform.RunAsync("ingest", "status", jobId);
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains($"{jobId}: Completed, 2/2 units done, 0 restarts", status.Stdout);
        Assert.Contains($"{File.ReadLines(Path.Combine(output, "candidates.jsonl")).Count()} kept", status.Stdout);

        var unknown = await platform.RunAsync("ingest", "status", "no-such-job");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("No ingest job 'no-such-job'", unknown.Stderr);
    }

    [Fact]
    public async Task An_ingestion_posted_over_http_runs_as_a_hangfire_job_and_completes_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 10, seed: 6);
        var output = Path.Combine(root, "out");
        await using var platform = await RunningPlatform.StartAsync();
        var http = platform.Http;

        using (var wrong = await http.PostAsJsonAsync("/api/ingest/jobs", new { inputs = new[] { "relative.warc.gz" }, output }, ct))
        {
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, wrong.StatusCode);
            Assert.Contains("is neither a blob URL nor an absolute path of an existing file", await wrong.Content.ReadAsStringAsync(ct));
        }

        var submission = new { inputs, output, dataset = "web", settings = new { samplesPerShard = 50 } };
        string jobId;
        using (var posted = await http.PostAsJsonAsync("/api/ingest/jobs", submission, ct))
        {
            Assert.True(posted.StatusCode == System.Net.HttpStatusCode.Accepted, await posted.Content.ReadAsStringAsync(ct));
            using var body = JsonDocument.Parse(await posted.Content.ReadAsStringAsync(ct));
            jobId = body.RootElement.GetProperty("job").GetString()!;
            Assert.Equal($"/api/ingest/jobs/{jobId}", posted.Headers.Location?.OriginalString);
        }
        // Posting the same ingestion again is another Hangfire job but the same ingest job.
        using (var again = await http.PostAsJsonAsync("/api/ingest/jobs", submission, ct))
        using (var body = JsonDocument.Parse(await again.Content.ReadAsStringAsync(ct)))
            Assert.Equal(jobId, body.RootElement.GetProperty("job").GetString());

        var deadline = DateTime.UtcNow.AddMinutes(2);
        JsonElement status = default;
        while (DateTime.UtcNow < deadline)
        {
            using var response = await http.GetAsync($"/api/ingest/jobs/{jobId}", ct);
            if (response.IsSuccessStatusCode)
            {
                status = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement;
                if (status.GetProperty("isOver").GetBoolean()) break;
            }
            await Task.Delay(200, ct);
        }
        Assert.True(status.ValueKind == JsonValueKind.Object && status.GetProperty("isOver").GetBoolean(), $"the posted job did not finish: {status}");
        Assert.Equal("Completed", status.GetProperty("phase").GetString());
        Assert.All(status.GetProperty("units").EnumerateArray(), u => Assert.Equal(1, u.GetProperty("attempt").GetInt32()));
        // The posted settings reached the job: 50 samples a shard cut the kept pairs into several shards.
        Assert.True(status.GetProperty("shards").GetProperty("shardCount").GetInt32() > 1, status.ToString());

        var succeeded = await http.GetStringAsync("/hangfire/jobs/succeeded", ct);
        Assert.Contains("IngestSubmitJob", succeeded);
        using (var missing = await http.GetAsync("/api/ingest/jobs/no-such-job", ct))
            Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task An_ingestion_posted_with_sas_token_inputs_completes_and_no_status_hangfire_page_or_command_shows_the_token()
    {
        var ct = TestContext.Current.CancellationToken;
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 10, seed: 7);
        await using var platform = await RunningPlatform.StartAsync();
        var container = platform.Storage.CreateBlobClient().GetBlobContainerClient("secret-dumps");
        await container.CreateIfNotExistsAsync(cancellationToken: ct);
        foreach (var input in inputs) await container.GetBlobClient(Path.GetFileName(input)).UploadAsync(input, ct);
        var sas = container.GenerateSasUri(Azure.Storage.Sas.BlobContainerSasPermissions.Read | Azure.Storage.Sas.BlobContainerSasPermissions.List,
            DateTimeOffset.UtcNow.AddHours(1)).Query;
        var signature = System.Web.HttpUtility.ParseQueryString(sas)["sig"]!;
        var blobInputs = inputs.Select(i => container.GetBlobClient(Path.GetFileName(i)).Uri + sas).ToArray();

        using var posted = await platform.Http.PostAsJsonAsync("/api/ingest/jobs", new { inputs = blobInputs, output = Path.Combine(root, "out"), dataset = "secret" }, ct);
        var answer = await posted.Content.ReadAsStringAsync(ct);
        Assert.True(posted.StatusCode == System.Net.HttpStatusCode.Accepted, answer);
        using var body = JsonDocument.Parse(answer);
        var (jobId, hangfireJob) = (body.RootElement.GetProperty("job").GetString()!, body.RootElement.GetProperty("hangfireJob").GetString()!);
        string status = "";
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline && !status.Contains("\"phase\":\"Completed\"", StringComparison.Ordinal))
        {
            using var response = await platform.Http.GetAsync($"/api/ingest/jobs/{jobId}", ct);
            status = await response.Content.ReadAsStringAsync(ct);
            await Task.Delay(200, ct);
        }

        Assert.Contains("\"phase\":\"Completed\"", status);
        Assert.Contains("?REDACTED", status);
        var shown = new Dictionary<string, string>
        {
            ["GET /api/ingest/jobs/JOB"] = status,
            ["the Hangfire job's page"] = await platform.Http.GetStringAsync($"/hangfire/jobs/details/{hangfireJob}", ct),
            ["ingest status"] = (await platform.RunAsync("ingest", "status", jobId)).Stdout,
        };
        Assert.Contains("RunStagedAsync", shown["the Hangfire job's page"]);
        Assert.Contains($"{jobId}: Completed", shown["ingest status"]);
        Assert.All(shown, pair => Assert.False(pair.Value.Contains(signature, StringComparison.Ordinal) || pair.Value.Contains(Uri.EscapeDataString(signature), StringComparison.Ordinal),
            $"{pair.Key} shows the SAS signature: {pair.Value}"));
    }

    [Fact]
    public async Task Submit_reads_blob_inputs_and_writes_the_dataset_to_a_blob_dataset_location()
    {
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 10, seed: 5);
        var output = Path.Combine(root, "out");
        await using var platform = await RunningPlatform.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var container = platform.Storage.CreateBlobClient().GetBlobContainerClient("crawls");
        await container.CreateIfNotExistsAsync(cancellationToken: ct);
        foreach (var input in inputs) await container.GetBlobClient("in/" + Path.GetFileName(input)).UploadAsync(input, ct);
        var containerUrl = $"{platform.Storage.BlobEndpoint.ToString().TrimEnd('/')}/crawls";

        var submitted = await platform.RunAsync(
            "ingest", "submit", containerUrl + "/in", "--dataset", "webblobs", "--out", output, "--dataset-location", containerUrl + "/datasets/webblobs");
        Assert.True(submitted.ExitCode == 0, submitted.Stderr);
        var jobId = submitted.Stdout.Trim();
        await WaitUntilOverAsync(platform, jobId);
        var status = await platform.RunAsync("ingest", "status", jobId);
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains($"{jobId}: Completed, 2/2 units done", status.Stdout);
        var blobs = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, "datasets/webblobs/", ct))
            blobs.Add(blob.Name);
        Assert.Contains("datasets/webblobs/00000_stats.json", blobs);
        Assert.Contains($"datasets/webblobs/funnel-{jobId}.json", blobs);
        Assert.False(Directory.Exists(Path.Combine(output, "dataset")));

        // A location outside the platform's storage account is refused before any work starts.
        var refused = await platform.RunAsync(
            "ingest", "submit", inputs[0], "--dataset", "elsewhere", "--out", Path.Combine(root, "out2"), "--dataset-location", "https://other.example/c/p");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("not in the storage account", refused.Stderr);
    }
}
