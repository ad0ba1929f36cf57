using Orleans.TestingHost;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Text;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

public sealed class IngestJobGrainTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-job-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static readonly IngestJobSettings Settings = new()
    {
        MaxImagesPerAltText = 3,
        MaxAltTextsPerImage = 3,
        LeaseTimeout = TimeSpan.FromSeconds(2),
    };

    /// <summary>Three silos on Azurite, wired as the host, each running at most <paramref name="unitsPerSilo"/> units at once.</summary>
    internal static async Task<InProcessTestCluster> StartClusterAsync(StorageConnection storage, int unitsPerSilo, TimeSpan? completedJobFolderDelay = null)
    {
        var builder = new InProcessTestClusterBuilder(3);
        builder.Options.ServiceId = "ingest-" + Guid.NewGuid().ToString("N")[..8];
        builder.Options.ClusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddPlatformStorage(storage, PlatformTestCluster.ManifestContainer);
            silo.Configure<IngestWorkerOptions>(o =>
            {
                o.MaxConcurrentUnitsPerSilo = unitsPerSilo;
                // Most tests check that a completed job leaves no work folders, at once.
                o.CompletedJobFolderDelay = completedJobFolderDelay ?? TimeSpan.Zero;
            });
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        // Random placement picks among the silos a silo's cluster manifest lists, which fills in a little after the silos
        // start: a job submitted at once could put every unit on one silo, and a test that must kill a silo running units would miss.
        await cluster.WaitForClusterManifestToStabilizeAsync();
        return cluster;
    }

    /// <summary>The job's status once it has planned its work units (the submission returns before, with one unit per input).</summary>
    internal static async Task<IngestJobStatus> WaitUntilPlannedAsync(IIngestJobGrain job)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        IngestJobStatus status;
        while ((status = await job.GetStatus()).Phase == IngestJobPhase.Planning)
        {
            Assert.True(DateTime.UtcNow < deadline, "The job did not plan its units within a minute.");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
        return status;
    }

    internal static async Task<IngestJobStatus> WaitForEndAsync(IIngestJobGrain job, TimeSpan limit, Func<IngestJobStatus, Task>? onProgress = null)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            IngestJobStatus? status = null;
            try { status = await job.GetStatus(); }
            catch (Exception) when (DateTime.UtcNow < deadline) { /* the job's silo may have just died; the next poll reactivates it */ }
            if (status is { IsOver: true }) return status;
            if (status is not null && onProgress is not null) await onProgress(status);
            Assert.True(DateTime.UtcNow < deadline, $"The job did not finish in {limit}: {status?.Phase}, {status?.UnitsDone} units done");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task A_job_over_several_warc_files_on_three_silos_writes_what_the_single_process_extraction_writes()
    {
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 8, pagesPerFile: 40, seed: 11);
        var single = Path.Combine(root, "single");
        var summary = await IngestInputs.RunSingleProcessAsync(inputs, single, Settings);
        // Pages repeat passages of pages in other files, so one run over all inputs rejects pages that each file alone keeps.
        long perFile = 0;
        for (var i = 0; i < inputs.Length; i++)
            perFile += (await IngestInputs.RunSingleProcessAsync([inputs[i]], Path.Combine(root, $"alone-{i}"), Settings)).Stats
                .Rejections(ExtractionRun.TextStage, C4TextCleaner.DuplicateSpans);
        Assert.True(summary.Stats.Rejections(ExtractionRun.TextStage, C4TextCleaner.DuplicateSpans) > perFile,
            $"{summary.Stats.Rejections(ExtractionRun.TextStage, C4TextCleaner.DuplicateSpans)} duplicate_spans rejections over all inputs, {perFile} file by file");

        await using var cluster = await StartClusterAsync(azurite.Connection, unitsPerSilo: 2);
        var job = cluster.Client.GetGrain<IIngestJobGrain>("job-" + Guid.NewGuid().ToString("N"));
        var distributed = Path.Combine(root, "distributed");
        var request = new IngestJobRequest(inputs, distributed, Settings);
        var submitted = await job.Submit(request);
        Assert.Equal(8, submitted.Units.Count);
        // Submitting again (a retried Hangfire job) changes nothing.
        Assert.Equal(8, (await job.Submit(request)).Units.Count);

        var status = await WaitForEndAsync(job, TimeSpan.FromMinutes(2));
        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        IngestInputs.AssertSameOutputs(single, distributed);
        Assert.Equal(File.ReadLines(Path.Combine(single, "candidates.jsonl")).LongCount(), status.PairsKept);
        Assert.True(status.PairsKept > 0);
        Assert.True(IngestInputs.Rejections(single, "alt_shared_by_too_many_images") > 0);
        Assert.True(IngestInputs.Rejections(single, "image_has_too_many_alts") > 0);
        // Images found in other files join with the pairs: some kept, some refused by their own opt-out.
        Assert.Contains(File.ReadLines(Path.Combine(single, "candidates.jsonl")), line => line.Contains("\"image_in_dump\":true", StringComparison.Ordinal));
        Assert.True(IngestInputs.Rejections(single, "image_opt_out") > 0);
        Assert.True(status.Units.Select(u => u.Worker).Distinct().Count() > 1, "the units should spread over the silos");
        Assert.False(Directory.Exists(Path.Combine(distributed, ".units")));
    }

    [Fact]
    public async Task A_job_whose_inputs_are_split_into_many_units_writes_what_the_single_process_extraction_writes()
    {
        // Per-record gzip, uncompressed WARC and a CSV list with quoted line breaks, each cut into several units of 16 KiB.
        var warcs = IngestInputs.Write(Path.Combine(root, "in"), files: 3, pagesPerFile: 60, seed: 13);
        string[] inputs = [warcs[0], IngestInputs.Uncompressed(warcs[1]), IngestInputs.CsvUrlList(Path.Combine(root, "in", "list.csv"), rows: 400, seed: 13), warcs[2]];
        var settings = Settings with { UnitBytes = 16 << 10 };
        var single = Path.Combine(root, "single");
        await IngestInputs.RunSingleProcessAsync(inputs, single, settings);

        await using var cluster = await StartClusterAsync(azurite.Connection, unitsPerSilo: 2);
        var job = cluster.Client.GetGrain<IIngestJobGrain>("job-" + Guid.NewGuid().ToString("N"));
        var distributed = Path.Combine(root, "distributed");
        var submitted = await job.Submit(new IngestJobRequest(inputs, distributed, settings));
        // The submission does not read the inputs: it returns with one unit per input, and the job plans the parts afterwards.
        Assert.Equal(IngestJobPhase.Planning, submitted.Phase);
        Assert.Equal(inputs, submitted.Units.Select(u => u.Input));
        IngestInputs.AssertEachInputSplit(await WaitUntilPlannedAsync(job), inputs);

        var status = await WaitForEndAsync(job, TimeSpan.FromMinutes(2));
        Assert.True(status.Phase == IngestJobPhase.Completed, status.Error);
        // Images of later gzip parts carry their offsets in the whole file, as the single-process run gives them.
        IngestInputs.AssertSameOutputs(single, distributed);
        Assert.Contains(File.ReadLines(Path.Combine(single, "images.jsonl")), line => line.Contains(Path.GetFileName(warcs[2]), StringComparison.Ordinal));
        Assert.Equal(inputs.Sum(i => new FileInfo(i).Length), status.InputBytesDone);
        Assert.True(status.Units.Select(u => u.Worker).Distinct().Count() > 1, "the units should spread over the silos");
    }

    [Fact]
    public async Task A_silo_killed_mid_job_loses_no_unit_and_counts_none_twice()
    {
        var inputs = IngestInputs.Write(Path.Combine(root, "in"), files: 9, pagesPerFile: 3000, seed: 5);
        var single = Path.Combine(root, "single");
        await IngestInputs.RunSingleProcessAsync(inputs, single, Settings);

        await using var cluster = await StartClusterAsync(azurite.Connection, unitsPerSilo: 1);
        var job = cluster.Client.GetGrain<IIngestJobGrain>("job-" + Guid.NewGuid().ToString("N"));
        var distributed = Path.Combine(root, "distributed");
        await job.Submit(new IngestJobRequest(inputs, distributed, Settings));

        // Kill a (non-primary) silo while units of the job are on it. Where a unit is, is read from the cluster's activations
        // (a unit's worker grain is "{job}/{unit}/{attempt}"), not from the worker its heartbeats report: on an idle machine
        // (CI) every unit could end before the job answered its first heartbeat, so no unit was ever seen on a victim.
        var management = cluster.Client.GetGrain<Orleans.Runtime.IManagementGrain>(0);
        var victims = cluster.Silos.Skip(1).ToDictionary(s => s.SiloAddress.ToString());
        string? killed = null;
        var seen = new List<string>();
        var status = await WaitForEndAsync(job, TimeSpan.FromMinutes(3), async progress =>
        {
            // Unit, state initial, worker's port: what the test saw, for a run that never finds a unit on a victim.
            seen.Add(string.Join(" ", progress.Units.Select(u => $"{u.Index}{u.State.ToString()[0]}{u.Worker?.Split(':').ElementAtOrDefault(1)}")));
            if (killed is not null || progress.Phase != IngestJobPhase.Extracting) return;
            var unfinished = progress.Units.Where(u => u.State == WorkUnitState.Running).Select(u => $"{job.GetPrimaryKeyString()}/{u.Index}/{u.Attempt}").ToHashSet();
            var onVictims = (await management.GetDetailedGrainStatistics())
                .Where(g => unfinished.Contains(g.GrainId.Key.ToString()!) && victims.ContainsKey(g.SiloAddress.ToString()))
                .GroupBy(g => g.SiloAddress.ToString())
                .MaxBy(units => units.Count());
            if (onVictims is null) return;
            killed = $"{onVictims.Key} holding {string.Join(", ", onVictims.Select(g => g.GrainId.Key.ToString()))}";
            await cluster.KillSiloAsync(victims[onVictims.Key]);
        });

        Assert.True(killed is not null, $"victims {string.Join(",", victims.Keys)}, {seen.Count} polls, the last distinct ones: {string.Join(" | ", seen.Distinct().TakeLast(40))} no unit was found on a non-primary silo before the job ended: {status.Phase} {status.Error} "
            + string.Join(", ", status.Units.Select(u => $"{u.Index}@{u.Worker}#{u.Attempt}:{u.State}")));
        Assert.True(status.Phase == IngestJobPhase.Completed, $"{status.Error} (killed {killed})");
        // Whether a unit of the killed silo is redone is not asserted: in an in-process cluster the killed silo's worker threads can
        // still finish and report (runs saw no restart after killing a silo holding unfinished units). What the kill must never
        // do is lose a unit or count one twice: every unit is done once and the outputs equal the single-process run's.
        Assert.All(status.Units, u => Assert.Equal(WorkUnitState.Done, u.State));
        IngestInputs.AssertSameOutputs(single, distributed);
    }
}
