using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using Platform.Benchmarks;
using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Ingestion;
using Platform.Grains.Training;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Stages;
using Platform.Model.Training;
using Platform.Tests.Ingestion;
using Platform.Tests.Infrastructure;
using Platform.Tests.Training;

namespace Platform.Tests.Deploy;

/// <summary>
/// `deploy/cluster.sh up 3` as real processes (silo 1 offers no device, silos 2 and 3 one CPU slot each), an ingest job and a
/// training run posted to one silo's HTTP API, SIGKILL for a process running ingest units and then for the one holding the
/// trainer; the dataset and the weights come out as one process makes them, Hangfire ran each job once, and `down` leaves
/// nothing behind. Needs PostgreSQL (PLATFORM_TEST_POSTGRES, as deploy/test.sh sets it).
/// </summary>
[Collection(ExactWeightsCollection.Name)]
public sealed class ClusterScriptTests : IDisposable
{
    private const int Steps = TrainingKillTests.Steps;
    private const int CheckpointEvery = TrainingKillTests.CheckpointEvery;

    private readonly string root = Directory.CreateTempSubdirectory("cluster-script-").FullName;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(20) };

    public void Dispose()
    {
        http.Dispose();
        Directory.Delete(root, recursive: true);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly IngestJobSettings IngestSettings = new() { SamplesPerShard = 40, LeaseTimeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task Cluster_sh_runs_three_silo_processes_that_survive_sigkill_of_an_ingest_worker_and_the_trainer_and_down_leaves_no_process_or_port()
    {
        var server = Environment.GetEnvironmentVariable(HangfirePostgreSqlTests.ServerVariable);
        if (string.IsNullOrWhiteSpace(server))
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                Assert.Fail($"{HangfirePostgreSqlTests.ServerVariable} is not set under CI=true: deploy/test.sh must start PostgreSQL and export it.");
            Assert.Skip($"No PostgreSQL configured: set {HangfirePostgreSqlTests.ServerVariable} (deploy/test.sh starts a server and sets it).");
        }
        var database = "cluster_script_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync(Ct);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
            await create.ExecuteNonQueryAsync(Ct);
        }
        var jobs = new NpgsqlConnectionStringBuilder(server) { Database = database, Pooling = false }.ConnectionString;
        try
        {
            await RunClusterAsync(jobs);
        }
        finally
        {
            await using var admin = new NpgsqlConnection(server);
            await admin.OpenAsync(CancellationToken.None);
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private async Task RunClusterAsync(string hangfireDatabase)
    {
        // Inputs split into many units, so the silo killed during extraction surely runs some; the reference dataset from `ingest run`.
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 4, pagesPerFile: 24, pictures: 60, seed: 12);
        var unitBytes = inputs.Min(i => new FileInfo(i).Length) / 8;
        var single = Path.Combine(root, "single");
        await IngestRun.RunAsync(inputs, new LocalDatasetFolder(single), IngestJobOptions.Run(IngestSettings) with { WorkDirectory = Path.Combine(root, "work") },
            cancellationToken: Ct);

        await using var cluster = new ClusterScript(Path.Combine(root, "cluster"), new Dictionary<string, string>
        {
            ["CLUSTER_POSTGRES"] = hangfireDatabase,
            ["CLUSTER_ID"] = "deploy-test-" + Guid.NewGuid().ToString("N")[..8],
            ["CLUSTER_DEVICES"] = "none,cpu,cpu",
            ["CLUSTER_WAIT"] = "300",
            ["PLATFORM_Training__LeaseTimeout"] = "00:00:06",
            ["PLATFORM_Training__CheckInterval"] = "00:00:00.500",
            // Until membership declares a killed process dead, its device still counts as free and each attempt placed there is
            // lost after a lease: those are not the run's failures.
            ["PLATFORM_Training__MaxFailures"] = "50",
        }, silos: 3);
        var upOutput = await cluster.UpAsync();
        Assert.Contains("3 silos healthy", upOutput);
        var processes = cluster.RecordedProcesses();
        Assert.Equal(["azurite", "silo-1", "silo-2", "silo-3"], processes.Keys.Order(StringComparer.Ordinal));
        var alive = new List<int> { 1, 2, 3 };
        await WaitForAsync(async () => (await GetJsonAsync(cluster.Web(2), "/api/devices"))?.GetProperty("devices").GetArrayLength() == 2,
            "both CPU slots in the device inventory", TimeSpan.FromMinutes(1));

        // Both submissions go to silo 2's API.
        var api = cluster.Web(2);
        var output = Path.Combine(root, "out");
        var dataset = "deploy-" + Guid.NewGuid().ToString("N")[..8];
        string jobId;
        using (var posted = await http.PostAsJsonAsync(new Uri(api, "/api/ingest/jobs"), new
               {
                   inputs,
                   output,
                   dataset,
                   settings = new { samplesPerShard = IngestSettings.SamplesPerShard, leaseTimeout = IngestSettings.LeaseTimeout, unitBytes },
               }, Ct))
        {
            var body = await posted.Content.ReadAsStringAsync(Ct);
            Assert.True(posted.StatusCode == System.Net.HttpStatusCode.Accepted, body);
            jobId = JsonDocument.Parse(body).RootElement.GetProperty("job").GetString()!;
        }
        var ingestPath = $"/api/ingest/jobs/{jobId}";

        // SIGKILL silo 1 (no device, so the run keeps both CPU slots) while it runs an ingest unit or shard step.
        string? killedDuring = null;
        await WaitForAsync(async () =>
        {
            if (await GetJsonAsync(api, ingestPath) is not { } status) return false;
            Assert.False(status.GetProperty("isOver").GetBoolean(), $"the ingest job ended before silo 1 ran any of its work: {status}");
            // Several at once (units wait there for a work slot), so the kill lands before silo 1 finishes them all.
            var running = status.GetProperty("units").EnumerateArray()
                .Concat(status.GetProperty("shards") is { ValueKind: JsonValueKind.Object } shardPhase
                    ? shardPhase.GetProperty("running").EnumerateArray() : Enumerable.Empty<JsonElement>())
                .Where(u => u.GetProperty("state").GetString() == "Running" && PortOf(u.GetProperty("worker").GetString()) == cluster.SiloPort(1))
                .Select(u => u.GetProperty("input").GetString()).ToList();
            if (running.Count < 2) return false;
            killedDuring = $"{status.GetProperty("phase").GetString()}: {string.Join(", ", running)}";
            return true;
        }, "ingest units running on silo 1", TimeSpan.FromMinutes(3));
        Kill(processes["silo-1"], alive, 1);
        await WaitForActiveSilosAsync(cluster, alive);

        // The training run, posted once the cluster has settled on two silos (one kill at a time: a cluster that lost two of
        // three silos at once has too few voters left to declare them dead).
        var trainingData = "deploy-train-" + Guid.NewGuid().ToString("N")[..8];
        var manifests = new DatasetManifestStore(cluster.Storage.CreateBlobClient(), PlatformTestCluster.ManifestContainer);
        var shards = await TrainingDatasetGenerator.WriteAsync(Path.Combine(root, "training-data"), shards: 2, samplesPerShard: 8, seed: 3, Ct);
        await manifests.AppendAsync(trainingData, new ManifestTail(0, 0),
            [.. shards.Select(s => new ManifestShard(s.ShardId, s.SampleCount, s.SizeBytes, s.Checksum, s.Location, s.CommittedAt))], Ct);
        var spec = TrainingKillTests.ResumableSpec("deploy-run-" + Guid.NewGuid().ToString("N")[..8], trainingData, Path.Combine(root, "runs", "deploy-run"));
        using (var posted = await http.PostAsJsonAsync(new Uri(api, "/api/train/runs"), spec, Ct))
            Assert.True(posted.StatusCode == System.Net.HttpStatusCode.Accepted, await posted.Content.ReadAsStringAsync(Ct));
        var runPath = $"/api/train/runs/{spec.RunId}";

        // SIGKILL the process holding the trainer once the run has a checkpoint and steps past it to redo.
        JsonElement run = default;
        await WaitForAsync(async () => (await GetJsonAsync(api, runPath)) is { } s && (run = s).GetProperty("checkpoints").GetArrayLength() > 0
                && s.GetProperty("latest") is { ValueKind: JsonValueKind.Object } latest && latest.GetProperty("step").GetInt32() > CheckpointEvery,
            "a checkpoint and a step past it", TimeSpan.FromMinutes(4));
        Assert.True(run.GetProperty("run").GetProperty("step").GetInt32() < Steps, "the run finished before its process could be killed");
        var holderPort = PortOf(run.GetProperty("run").GetProperty("devices").EnumerateArray().Single().GetProperty("silo").GetString());
        var trainerSilo = alive.Single(i => cluster.SiloPort(i) == holderPort);
        Kill(processes[$"silo-{trainerSilo}"], alive, trainerSilo);
        var survivor = Assert.Single(alive);
        await WaitForActiveSilosAsync(cluster, alive);

        // Both jobs finish on the survivor.
        var web = cluster.Web(survivor);
        await WaitForAsync(async () => (await GetJsonAsync(web, runPath)) is { } s
                && (run = s).GetProperty("run").GetProperty("phase").GetString() is "Completed" or "Failed" or "Cancelled",
            "the run's end", TimeSpan.FromMinutes(6));
        JsonElement ingest = default;
        await WaitForAsync(async () => (await GetJsonAsync(web, ingestPath)) is { } s && (ingest = s).GetProperty("isOver").GetBoolean(),
            "the ingest job's end", TimeSpan.FromMinutes(4));

        Assert.True(ingest.GetProperty("phase").GetString() == "Completed", ingest.ToString());
        var restarted = ingest.GetProperty("units").EnumerateArray().Count(u => u.GetProperty("attempt").GetInt32() > 1)
                        + ingest.GetProperty("shards").GetProperty("restarts").GetInt32();
        // Work seen running on silo 1 may still have reported in between the poll and the kill (a shard fetch takes well under
        // a second here; a CI run saw exactly that), so a redo is reported, not required: the dataset check below is the claim.
        TestContext.Current.SendDiagnosticMessage($"silo 1 was killed during {killedDuring}; {restarted} units or shards were redone");
        IngestShardPhaseTests.AssertSameShardFiles(single, Path.Combine(output, IngestJobLayout.DatasetFolder));

        Assert.True(run.GetProperty("run").GetProperty("phase").GetString() == "Completed", run.ToString());
        Assert.True(run.GetProperty("run").GetProperty("attempt").GetInt32() >= 2, "nothing resumed the run after its trainer's process died");
        Assert.Equal(cluster.SiloPort(survivor), PortOf(run.GetProperty("worker").GetString()));
        var final = Checkpoint.Latest(spec.CheckpointLocation!)!;
        Assert.Equal(Steps, Checkpoint.ReadState(final).Step);
        var uninterrupted = Path.Combine(root, "uninterrupted");
        var resolved = (await manifests.ReadAsync(trainingData, Ct)).Entries.Select(manifests.Resolve).ToList();
        using (var trainer = TrainingRun.Create(TrainingSpecMapping.Request(spec, resolved, uninterrupted, new DeviceAddress("this-process", "cpu:0"))))
            await foreach (var _ in trainer.RunAsync(cancellationToken: Ct)) { }
        var difference = CheckpointWeights.MaxDifference(final, uninterrupted);
        Assert.True(difference <= 1e-5, $"the resumed run's weights differ from the uninterrupted run's by up to {difference}");

        // Hangfire, shared by all silos in PostgreSQL, holds one job per submission, each run to success (besides the
        // recurring training check's runs).
        var hangfireJobs = await HangfireJobsAsync(hangfireDatabase);
        Assert.Equal(["IngestSubmitJob Succeeded", "TrainingSubmitJob Succeeded"],
            hangfireJobs.Where(j => j.Contains("SubmitJob ", StringComparison.Ordinal)).Order(StringComparer.Ordinal));

        // `down` stops the survivor and Azurite; no recorded process runs and no port of the layout answers.
        await cluster.DownAsync();
        Assert.All(processes, p => Assert.False(ClusterScript.IsRunning(p.Value), $"{p.Key} (pid {p.Value.Pid}) still runs after down"));
        Assert.DoesNotContain(cluster.Ports, ClusterScript.IsListening);
        Assert.Empty(Directory.GetFiles(cluster.StateDirectory, "*.pid"));
    }

    private static void Kill((int Pid, string StartTime) process, List<int> alive, int silo)
    {
        Assert.True(ClusterScript.IsRunning(process), $"silo {silo} (pid {process.Pid}) died before the test killed it");
        using (var victim = System.Diagnostics.Process.GetProcessById(process.Pid))
            victim.Kill(); // SIGKILL: no shutdown, no goodbye to the cluster
        alive.Remove(silo);
    }

    /// <summary>Every surviving silo's /healthz counts only the survivors as active: the membership change is seen.</summary>
    private async Task WaitForActiveSilosAsync(ClusterScript cluster, IReadOnlyList<int> alive)
    {
        var counts = new Dictionary<int, int?>();
        await WaitForAsync(async () =>
        {
            foreach (var silo in alive)
                counts[silo] = (await GetJsonAsync(cluster.Web(silo), "/healthz", acceptUnhealthy: true))?.GetProperty("checks").GetProperty("silo")
                    .GetProperty("data").GetProperty("activeSilos").GetInt32();
            return alive.All(silo => counts[silo] == alive.Count);
        }, $"/healthz on silos {string.Join(", ", alive)} to count {alive.Count} active silos", TimeSpan.FromMinutes(3));
    }

    /// <summary>Each Hangfire job as `TYPE STATE`, read from Hangfire's tables.</summary>
    private static async Task<List<string>> HangfireJobsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var query = new NpgsqlCommand("SELECT invocationdata::text, statename FROM hangfire.job", connection);
        await using var reader = await query.ExecuteReaderAsync(Ct);
        var jobs = new List<string>();
        while (await reader.ReadAsync(Ct))
        {
            using var invocation = JsonDocument.Parse(reader.GetString(0));
            var type = invocation.RootElement.GetProperty("Type").GetString()!;
            jobs.Add($"{type.Split(',')[0].Split('.')[^1]} {(reader.IsDBNull(1) ? "" : reader.GetString(1))}");
        }
        return jobs;
    }

    /// <summary>The port of a silo address as the APIs print it (`127.0.0.1:21120@1234`, `S127.0.0.1:21120:1234`).</summary>
    private static int? PortOf(string? silo) =>
        silo is not null && Regex.Match(silo, @"127\.0\.0\.1:(\d+)") is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;

    /// <summary>The JSON a silo answers; null while it cannot answer (the cluster finding out a process died).</summary>
    private async Task<JsonElement?> GetJsonAsync(Uri silo, string path, bool acceptUnhealthy = false)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(silo, path), Ct);
            if (!response.IsSuccessStatusCode && !(acceptUnhealthy && response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)) return null;
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
            return json.RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !Ct.IsCancellationRequested)
        {
            return null;
        }
    }

    private static Task WaitForAsync(Func<Task<bool>> condition, string what, TimeSpan timeout) => TrainingKillTests.WaitUntilAsync(condition, what, timeout);
}
