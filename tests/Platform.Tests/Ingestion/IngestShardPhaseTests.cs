using System.Text;
using System.Text.Json;
using Platform.Benchmarks;
using Platform.Datasets;
using Platform.Grains.Datasets;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Stages;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

/// <summary>The cluster job's shard phase against the single-process `ingest run` over the same generated dumps.</summary>
public sealed class IngestShardPhaseTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-shards-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static readonly IngestJobSettings Settings = new()
    {
        SamplesPerShard = 40,
        LeaseTimeout = TimeSpan.FromSeconds(2),
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every sample stored: (key, sha256 of the original, caption), in shard order.</summary>
    private static List<(string Key, string Sha256, string Caption)> Stored(string datasetFolder) =>
        [.. Directory.GetFiles(datasetFolder, "*.tar").Order(StringComparer.Ordinal).SelectMany(tar => WebDatasetShardReader.Read(tar))
            .Select(sample =>
            {
                using var json = JsonDocument.Parse(sample.Files["json"]);
                return (sample.Key, json.RootElement.GetProperty("sha256").GetString()!, Encoding.UTF8.GetString(sample.Files["txt"]));
            })];

    /// <summary>The shard files that must come out byte for byte the same: tars, dedupe deltas and stats.</summary>
    internal static void AssertSameShardFiles(string expected, string actual)
    {
        string[] Names(string folder) => [.. Directory.GetFiles(folder).Select(Path.GetFileName).Where(n => n!.EndsWith(".tar") || n.EndsWith("_dedupe.bin") || n.EndsWith("_stats.json")).Order(StringComparer.Ordinal)!];
        Assert.Equal(Names(expected), Names(actual));
        foreach (var name in Names(expected))
            Assert.True(File.ReadAllBytes(Path.Combine(expected, name)).SequenceEqual(File.ReadAllBytes(Path.Combine(actual, name))), $"{name} differs");
    }

    private async Task<(string Folder, IngestRunSummary Summary)> RunSingleProcessAsync(string[] inputs)
    {
        var folder = Path.Combine(root, "single");
        var summary = await IngestRun.RunAsync(inputs, new LocalDatasetFolder(folder), IngestJobOptions.Run(Settings) with { WorkDirectory = Path.Combine(root, "work") },
            cancellationToken: Ct);
        return (folder, summary);
    }

    /// <summary>
    /// A storage that loses its last writes in a crash (the embedded Azurite saves every 5 s) can bring a job back to finishing
    /// while it writes shards, or to the shard phase just after it completed: the folders those phases read must still be there.
    /// </summary>
    [Fact]
    public async Task The_work_folders_outlive_the_phases_that_read_them_and_go_a_while_after_the_job_completes()
    {
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 2, pagesPerFile: 16, pictures: 30, seed: 5);
        var delay = TimeSpan.FromSeconds(10);
        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 2, completedJobFolderDelay: delay);
        var job = cluster.Client.GetGrain<IIngestJobGrain>("job-" + Guid.NewGuid().ToString("N"));
        var output = Path.Combine(root, "distributed");
        var layout = new IngestJobLayout(output);
        await job.Submit(new IngestJobRequest(inputs, output, Settings with { SamplesPerShard = 5 }, "folders-" + Guid.NewGuid().ToString("N")[..8]));
        var phasesAfterFinishing = new HashSet<IngestJobPhase>();
        var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(2), seen =>
        {
            if (seen.Phase is IngestJobPhase.FetchingShards or IngestJobPhase.Deduping or IngestJobPhase.WritingShards)
            {
                phasesAfterFinishing.Add(seen.Phase);
                Assert.True(Directory.Exists(layout.UnitsDirectory), $"the unit folders are gone in phase {seen.Phase}");
            }
            return Task.CompletedTask;
        });
        var completed = DateTime.UtcNow;
        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        Assert.NotEmpty(phasesAfterFinishing);
        Assert.True(Directory.Exists(layout.UnitsDirectory), "the unit folders went as the job completed");
        Assert.True(Directory.Exists(layout.ShardsDirectory), "the shard attempts went as the job completed");

        while ((Directory.Exists(layout.UnitsDirectory) || Directory.Exists(layout.ShardsDirectory)) && DateTime.UtcNow < completed + TimeSpan.FromMinutes(1))
            await Task.Delay(100, Ct);
        Assert.False(Directory.Exists(layout.UnitsDirectory), "the unit folders outlived the job by a minute");
        Assert.False(Directory.Exists(layout.ShardsDirectory), "the shard attempts outlived the job by a minute");
        Assert.True(DateTime.UtcNow - completed >= delay - TimeSpan.FromSeconds(1), $"the folders went {DateTime.UtcNow - completed} after completion, before the delay");
    }

    [Fact]
    public async Task A_job_on_three_silos_commits_the_dataset_the_single_process_run_writes()
    {
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 5, pagesPerFile: 24, pictures: 60, seed: 3);
        var (single, summary) = await RunSingleProcessAsync(inputs);
        Assert.True(summary.ShardCount >= 3, $"{summary.ShardCount} shards: too few to spread");
        // The input holds every kind of duplicate, so the comparison covers each dedupe decision.
        foreach (var reason in new[] { DedupeReasons.DuplicateUrl, DedupeReasons.DuplicateImageBytes, DedupeReasons.NearDuplicateImage })
            Assert.True(summary.Shards.Totals.ReasonCounts.GetValueOrDefault(reason) > 0, $"no {reason} in the single-process run");

        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 2);
        var dataset = "shards-" + Guid.NewGuid().ToString("N")[..8];
        var jobId = "job-" + Guid.NewGuid().ToString("N");
        var job = cluster.Client.GetGrain<IIngestJobGrain>(jobId);
        var output = Path.Combine(root, "distributed");
        await job.Submit(new IngestJobRequest(inputs, output, Settings, dataset));
        var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(2));

        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        var distributed = Path.Combine(output, IngestJobLayout.DatasetFolder);
        Assert.Equal(Stored(single), Stored(distributed));
        Assert.True(Stored(single).Count > 0);
        AssertSameShardFiles(single, distributed);
        Assert.Equal(summary.ShardCount, status.Shards!.ShardsCommitted);
        Assert.Equal(summary.Shards.Totals.Successes, status.Shards.SamplesStored);
        var totals = await cluster.Client.GetGrain<IDatasetGrain>(dataset).GetTotals();
        Assert.Equal(summary.ShardCount, totals.ShardCount);
        Assert.Equal(summary.Shards.Totals.Successes, totals.SampleCount);
        Assert.False(Directory.Exists(Path.Combine(output, ".shards")));
        // Besides the shards, the dataset holds the job's text and funnel as `ingest run` leaves them.
        var text = File.ReadAllBytes(Path.Combine(single, FunnelStage.TextFileName(summary.JobId)));
        Assert.True(text.Length > 0);
        Assert.Equal(text, File.ReadAllBytes(Path.Combine(distributed, FunnelStage.TextFileName(jobId))));
        var funnel = IngestInputs.FunnelLines(Path.Combine(single, FunnelStage.FunnelFileName(summary.JobId)));
        Assert.Contains(funnel, line => line.StartsWith($"{FunnelStage.ShardStage} in=", StringComparison.Ordinal) && !line.EndsWith("in=0 passed=0", StringComparison.Ordinal));
        Assert.Equal(funnel, IngestInputs.FunnelLines(Path.Combine(distributed, FunnelStage.FunnelFileName(jobId))));
    }

    [Fact]
    public async Task Jobs_into_one_dataset_get_distinct_shard_ids_concurrently_and_in_sequence_whatever_their_locations()
    {
        var inputsA = ImageDumpGenerator.Write(Path.Combine(root, "in-a"), files: 2, pagesPerFile: 12, pictures: 30, seed: 5);
        var inputsB = ImageDumpGenerator.Write(Path.Combine(root, "in-b"), files: 2, pagesPerFile: 12, pictures: 30, seed: 6);
        var inputsC = ImageDumpGenerator.Write(Path.Combine(root, "in-c"), files: 2, pagesPerFile: 12, pictures: 30, seed: 7);
        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 2);
        var dataset = "shared-" + Guid.NewGuid().ToString("N")[..8];
        var sharedLocation = Path.Combine(root, "out-a", IngestJobRequest.DefaultDatasetFolder);
        async Task<IngestJobStatus> RunAsync(string name, string[] inputs, string? location)
        {
            var job = cluster.Client.GetGrain<IIngestJobGrain>($"{name}-{Guid.NewGuid():N}");
            await job.Submit(new IngestJobRequest(inputs, Path.Combine(root, "out-" + name), Settings, dataset, location));
            return await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(3));
        }

        // A and B at once into one location, then C alone into another.
        var concurrent = await Task.WhenAll(RunAsync("a", inputsA, null), RunAsync("b", inputsB, sharedLocation));
        var sequential = await RunAsync("c", inputsC, null);

        foreach (var status in concurrent.Append(sequential))
        {
            Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
            Assert.True(status.Shards!.ShardsCommitted > 0);
        }
        var shards = await cluster.Client.GetGrain<IDatasetGrain>(dataset).ListShards(0, 1000);
        Assert.Equal(concurrent.Append(sequential).Sum(s => s.Shards!.ShardsCommitted), shards.Count);
        Assert.Equal(shards.Count, shards.Select(s => s.ShardId).Distinct().Count());
        Assert.Equal(shards.Count, shards.Select(s => s.Location).Distinct().Count());
        foreach (var shard in shards)
        {
            var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(shard.Location)));
            Assert.True(string.Equals(shard.Checksum, sha, StringComparison.OrdinalIgnoreCase), $"shard {shard.ShardId} at {shard.Location} no longer has its committed contents");
        }
        Assert.Equal(concurrent.Append(sequential).Sum(s => s.Shards!.SamplesStored), shards.Sum(s => s.SampleCount));
    }

    [Fact]
    public async Task A_job_whose_inputs_are_split_into_many_units_commits_the_dataset_the_single_process_run_writes()
    {
        var dumps = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 3, pagesPerFile: 24, pictures: 60, seed: 5);
        string[] inputs = [dumps[0], IngestInputs.Uncompressed(dumps[1]), dumps[2]];
        var (single, summary) = await RunSingleProcessAsync(inputs);
        Assert.True(summary.ShardCount >= 2, $"{summary.ShardCount} shards: too few to spread");

        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 2);
        var dataset = "split-" + Guid.NewGuid().ToString("N")[..8];
        var jobId = "job-" + Guid.NewGuid().ToString("N");
        var job = cluster.Client.GetGrain<IIngestJobGrain>(jobId);
        var output = Path.Combine(root, "distributed");
        var submitted = await job.Submit(new IngestJobRequest(inputs, output, Settings with { UnitBytes = inputs.Min(i => new FileInfo(i).Length) / 4 }, dataset));
        IngestInputs.AssertEachInputSplit(await IngestJobGrainTests.WaitUntilPlannedAsync(job), inputs);
        var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(2));

        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        var distributed = Path.Combine(output, IngestJobLayout.DatasetFolder);
        Assert.True(Stored(single).Count > 0);
        Assert.Equal(Stored(single), Stored(distributed));
        AssertSameShardFiles(single, distributed);
        Assert.Equal(File.ReadAllBytes(Path.Combine(single, FunnelStage.TextFileName(summary.JobId))),
            File.ReadAllBytes(Path.Combine(distributed, FunnelStage.TextFileName(jobId))));
        Assert.Equal(IngestInputs.FunnelLines(Path.Combine(single, FunnelStage.FunnelFileName(summary.JobId))),
            IngestInputs.FunnelLines(Path.Combine(distributed, FunnelStage.FunnelFileName(jobId))));
    }

    [Fact]
    public async Task A_job_into_a_blob_dataset_writes_the_blobs_the_single_process_run_writes_as_files()
    {
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 3, pagesPerFile: 20, pictures: 40, seed: 5);
        var (single, summary) = await RunSingleProcessAsync(inputs);
        Assert.True(summary.ShardCount >= 2, $"{summary.ShardCount} shards: too few to spread");

        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 2);
        var dataset = "blobshards-" + Guid.NewGuid().ToString("N")[..8];
        var container = "ds-" + Guid.NewGuid().ToString("N")[..12];
        var location = $"{azurite.Connection.BlobEndpoint.ToString().TrimEnd('/')}/{container}/datasets/web";
        var jobId = "job-" + Guid.NewGuid().ToString("N");
        var job = cluster.Client.GetGrain<IIngestJobGrain>(jobId);
        var output = Path.Combine(root, "distributed");
        await job.Submit(new IngestJobRequest(inputs, output, Settings, dataset, location));
        var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(2));

        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        Assert.False(Directory.Exists(Path.Combine(output, IngestJobLayout.DatasetFolder)), "nothing of the dataset should be written locally");
        var blobs = new Dictionary<string, byte[]>();
        var client = azurite.Connection.CreateBlobClient().GetBlobContainerClient(container);
        await foreach (var blob in client.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, "datasets/web/", Ct))
            blobs[blob.Name["datasets/web/".Length..]] = (await client.GetBlobClient(blob.Name).DownloadContentAsync(Ct)).Value.Content.ToArray();
        var shardFiles = Directory.GetFiles(single).Select(Path.GetFileName)
            .Where(n => n!.EndsWith(".tar") || n.EndsWith("_dedupe.bin") || n.EndsWith("_stats.json")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(shardFiles, blobs.Keys.Where(n => n.EndsWith(".tar") || n.EndsWith("_dedupe.bin") || n.EndsWith("_stats.json")).Order(StringComparer.Ordinal));
        foreach (var name in shardFiles)
            Assert.True(File.ReadAllBytes(Path.Combine(single, name!)).SequenceEqual(blobs[name!]), $"{name} differs");
        Assert.Equal(File.ReadAllBytes(Path.Combine(single, FunnelStage.TextFileName(summary.JobId))), blobs[FunnelStage.TextFileName(jobId)]);
        var funnel = Path.Combine(root, "funnel.json");
        File.WriteAllBytes(funnel, blobs[FunnelStage.FunnelFileName(jobId)]);
        Assert.Equal(IngestInputs.FunnelLines(Path.Combine(single, FunnelStage.FunnelFileName(summary.JobId))), IngestInputs.FunnelLines(funnel));
        // The manifest points at the blobs, with the sizes and checksums of what was uploaded.
        var shards = await cluster.Client.GetGrain<IDatasetGrain>(dataset).ListShards(0, 1000);
        Assert.Equal(summary.ShardCount, shards.Count);
        foreach (var shard in shards)
        {
            var tar = blobs[shard.ShardId + ".tar"];
            Assert.Equal($"{location}/{shard.ShardId}.tar", shard.Location);
            Assert.Equal(tar.LongLength, shard.SizeBytes);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tar)), shard.Checksum);
        }
    }

    [Fact]
    public async Task A_job_over_blob_inputs_commits_the_dataset_the_single_process_run_writes_from_the_same_files()
    {
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 3, pagesPerFile: 20, pictures: 40, seed: 6);
        var (single, summary) = await RunSingleProcessAsync(inputs);
        var container = azurite.Connection.CreateBlobClient().GetBlobContainerClient("dumps-" + Guid.NewGuid().ToString("N")[..12]);
        await container.CreateAsync(cancellationToken: Ct);
        foreach (var input in inputs) await container.GetBlobClient("crawl/" + Path.GetFileName(input)).UploadAsync(input, Ct);
        await container.GetBlobClient("crawl/README.txt").UploadAsync(BinaryData.FromString("not a dump"), Ct);

        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 2);
        var dataset = "blobinputs-" + Guid.NewGuid().ToString("N")[..8];
        var jobId = "job-" + Guid.NewGuid().ToString("N");
        var job = cluster.Client.GetGrain<IIngestJobGrain>(jobId);
        var output = Path.Combine(root, "distributed");
        var prefix = $"{azurite.Connection.BlobEndpoint.ToString().TrimEnd('/')}/{container.Name}/crawl";
        // Units smaller than each blob: the blobs are planned and read in byte ranges, as local files are.
        var unitBytes = inputs.Min(i => new FileInfo(i).Length) / 3;
        var submitted = await job.Submit(new IngestJobRequest([prefix], output, Settings with { UnitBytes = unitBytes }, dataset));
        // The prefix stands for its dumps, in name order (the generator names them in input order), each cut into parts.
        var blobs = inputs.Select(i => $"{prefix}/{Path.GetFileName(i)}").ToList();
        Assert.Equal(blobs, submitted.Units.Select(u => u.Input));
        var planned = await IngestJobGrainTests.WaitUntilPlannedAsync(job);
        IngestInputs.AssertEachInputSplit(planned, blobs);
        Assert.Equal(blobs, planned.Units.Select(u => u.Input[..u.Input.LastIndexOf(" [", StringComparison.Ordinal)]).Distinct());
        var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(2));

        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        Assert.Equal(inputs.Sum(i => new FileInfo(i).Length), status.InputBytesDone);
        var distributed = Path.Combine(output, IngestJobLayout.DatasetFolder);
        Assert.Equal(Stored(single), Stored(distributed));
        Assert.True(Stored(single).Count > 0);
        // Images stored from the dumps were read back out of the blobs, not fetched: the shards are the same bytes.
        Assert.True(summary.Shards.Totals.Successes > 0);
        AssertSameShardFiles(single, distributed);
        Assert.Equal(File.ReadAllBytes(Path.Combine(single, FunnelStage.TextFileName(summary.JobId))), File.ReadAllBytes(Path.Combine(distributed, FunnelStage.TextFileName(jobId))));
        Assert.Equal(IngestInputs.FunnelLines(Path.Combine(single, FunnelStage.FunnelFileName(summary.JobId))),
            IngestInputs.FunnelLines(Path.Combine(distributed, FunnelStage.FunnelFileName(jobId))));
    }

    [Fact]
    public async Task A_silo_killed_in_the_shard_phase_loses_no_shard_and_commits_none_twice()
    {
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 4, pagesPerFile: 30, pictures: 60, seed: 8);
        var (single, summary) = await RunSingleProcessAsync(inputs);

        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 1);
        var dataset = "shards-" + Guid.NewGuid().ToString("N")[..8];
        var job = cluster.Client.GetGrain<IIngestJobGrain>("job-" + Guid.NewGuid().ToString("N"));
        var output = Path.Combine(root, "distributed");
        await job.Submit(new IngestJobRequest(inputs, output, Settings, dataset));

        // Kill a non-primary silo as soon as a shard step runs on it; one step at a time per silo, so others wait there too.
        var victims = cluster.Silos.Skip(1).ToDictionary(s => s.SiloAddress.ToString());
        string? killedDuring = null;
        var status = await IngestJobGrainTests.WaitForEndAsync(job, TimeSpan.FromMinutes(3), async progress =>
        {
            if (killedDuring is not null || progress.Shards?.Running.FirstOrDefault(u =>
                    u.State == WorkUnitState.Running && u.Worker is not null && victims.ContainsKey(u.Worker)) is not { } running) return;
            killedDuring = $"{progress.Phase}: {running.Input}";
            await cluster.KillSiloAsync(victims[running.Worker!]);
        });

        Assert.NotNull(killedDuring);
        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        Assert.True(status.Shards!.Restarts >= 1, $"shard steps on the killed silo should have been redone (killed during {killedDuring})");
        var distributed = Path.Combine(output, IngestJobLayout.DatasetFolder);
        Assert.Equal(Stored(single), Stored(distributed));
        AssertSameShardFiles(single, distributed);
        var shards = await cluster.Client.GetGrain<IDatasetGrain>(dataset).ListShards(0, 1000);
        Assert.Equal(Enumerable.Range(0, summary.ShardCount).Select(DatasetLayout.ShardName), shards.Select(s => s.ShardId).Order(StringComparer.Ordinal));
        Assert.Equal(summary.Shards.Totals.Successes, shards.Sum(s => s.SampleCount));
    }

    [Fact]
    public async Task A_silo_killed_while_it_runs_a_job_wide_step_leaves_the_job_committing_the_same_dataset()
    {
        var inputs = ImageDumpGenerator.Write(Path.Combine(root, "in"), files: 4, pagesPerFile: 60, pictures: 120, seed: 9);
        var (single, summary) = await RunSingleProcessAsync(inputs);

        await using var cluster = await IngestJobGrainTests.StartClusterAsync(azurite.Connection, unitsPerSilo: 1);
        var management = cluster.Client.GetGrain<Orleans.Runtime.IManagementGrain>(0);
        var victims = cluster.Silos.Skip(1).ToDictionary(s => s.SiloAddress.ToString());
        // A step runs on a silo picked at random, the primary one included, which the cluster cannot lose: a job whose steps
        // both ran there is tried again with another job.
        for (var job = 0; job < 4; job++)
        {
            var dataset = "steps-" + Guid.NewGuid().ToString("N")[..8];
            var jobId = "job-" + Guid.NewGuid().ToString("N");
            var grain = cluster.Client.GetGrain<IIngestJobGrain>(jobId);
            var output = Path.Combine(root, $"distributed-{job}");
            await grain.Submit(new IngestJobRequest(inputs, output, Settings, dataset));
            string? killed = null;
            var status = await IngestJobGrainTests.WaitForEndAsync(grain, TimeSpan.FromMinutes(3), async progress =>
            {
                if (killed is not null) return;
                var step = progress.Phase switch
                {
                    IngestJobPhase.Finishing => $"{jobId}/step/{IngestStep.Finish}/{progress.FinishAttempts}",
                    IngestJobPhase.Deduping => $"{jobId}/step/{IngestStep.Dedupe}/{progress.Shards?.DedupeAttempts}",
                    _ => null,
                };
                if (step is null) return;
                var running = (await management.GetDetailedGrainStatistics()).FirstOrDefault(g => g.GrainId.Key.ToString() == step);
                if (running is null || !victims.TryGetValue(running.SiloAddress.ToString(), out var victim)) return;
                killed = $"{progress.Phase} on {running.SiloAddress}";
                await cluster.KillSiloAsync(victim);
            });

            Assert.True(status.Phase == IngestJobPhase.Completed, $"{status.Error} (killed during {killed})");
            var distributed = Path.Combine(output, IngestJobLayout.DatasetFolder);
            Assert.Equal(Stored(single), Stored(distributed));
            AssertSameShardFiles(single, distributed);
            Assert.Equal(IngestInputs.FunnelLines(Path.Combine(single, FunnelStage.FunnelFileName(summary.JobId))),
                IngestInputs.FunnelLines(Path.Combine(distributed, FunnelStage.FunnelFileName(jobId))));
            var shards = await cluster.Client.GetGrain<IDatasetGrain>(dataset).ListShards(0, 1000);
            Assert.Equal(summary.Shards.Totals.Successes, shards.Sum(s => s.SampleCount));
            if (killed is null) continue;
            // Whether the killed step was redone under a new attempt is not asserted: in an in-process cluster the killed silo's
            // worker thread can still finish the step and its report arrive (a CI run saw finish attempts 1 after a kill during
            // finishing). Redoing a step whose lease expires is covered by the work table's and the leased runner's tests.
            return;
        }
        Assert.Fail("No job-wide step was seen running on a silo that could be killed.");
    }
}
