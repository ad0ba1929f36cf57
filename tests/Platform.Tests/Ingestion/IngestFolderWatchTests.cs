using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Grains.Ingestion;
using Platform.Silo.Hosting;
using Platform.Silo.Jobs;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

/// <summary>The folder-watch job on the shared test cluster: each settled dump becomes one ingest job, whatever runs the scan and how often.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class IngestFolderWatchTests(SharedClusterFixture shared, AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("ingest-watch-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private (IngestFolderWatchJob Job, PlatformConfiguration Configuration, string Folder, string Name) Watch(TimeSpan settle)
    {
        var folder = Path.Combine(root, "drop");
        Directory.CreateDirectory(folder);
        var name = "watch-" + Guid.NewGuid().ToString("N")[..8];
        var configuration = PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["IngestWatch:WorkDirectory"] = Path.Combine(root, "work"),
            ["IngestWatch:Folders:0:Path"] = folder,
            ["IngestWatch:Folders:0:Name"] = name,
            ["IngestWatch:Folders:0:SettleTime"] = settle.ToString(),
        }).Build());
        return (new IngestFolderWatchJob(shared.Grains, configuration, NullLogger<IngestFolderWatchJob>.Instance), configuration, folder, name);
    }

    private async Task<IngestJobStatus> WaitForJobAsync(string jobId)
    {
        var grain = shared.Grains.GetGrain<IIngestJobGrain>(jobId);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        IngestJobStatus status;
        while (!(status = await grain.GetStatus()).IsOver && DateTime.UtcNow < deadline) await Task.Delay(50, TestContext.Current.CancellationToken);
        return status;
    }

    [Fact]
    public async Task Overlapping_and_repeated_scans_ingest_each_dropped_dump_exactly_once()
    {
        var (job, configuration, folder, name) = Watch(TimeSpan.Zero);
        var dumps = IngestInputs.Write(folder, files: 2, pagesPerFile: 6, seed: 11);

        // Two scans at once (two processes, or a Hangfire retry beside the next tick), then a later one.
        var reports = await Task.WhenAll(job.RunAsync(name), job.RunAsync(name));
        // Both scans may submit a claim the other has not yet confirmed: the job id is the claim's, so that is one job.
        Assert.Equal(dumps.Select(Path.GetFileName), reports.SelectMany(r => r.Submitted).Distinct().Order(StringComparer.Ordinal));
        var status = await shared.Grains.GetGrain<IIngestWatchGrain>(name).GetStatus();
        Assert.Equal(dumps.Select(Path.GetFileName), status.Files.Select(f => f.RelativePath));
        Assert.All(status.Files, f => Assert.True(f.Submitted));
        Assert.Equal(2, status.Scans);
        foreach (var file in status.Files)
        {
            var ingest = await WaitForJobAsync(file.JobId);
            Assert.True(ingest.Phase == IngestJobPhase.Completed, ingest.Error);
            Assert.Equal(Path.Combine(folder, file.RelativePath), Assert.Single(ingest.Units).Input);
            Assert.Equal(1, ingest.Units[0].Attempt);
            Assert.True(File.Exists(Path.Combine(configuration.IngestWatchWorkPath(), file.JobId, "candidates.jsonl")));
        }

        var later = await job.RunAsync(name);
        Assert.Equal(dumps.Length, later.SettledFiles);
        Assert.Empty(later.Submitted);
        Assert.Equal(status.Files, (await shared.Grains.GetGrain<IIngestWatchGrain>(name).GetStatus()).Files);
    }

    [Fact]
    public async Task A_claim_whose_scan_died_before_submitting_is_submitted_by_the_next_scan()
    {
        var (job, _, folder, name) = Watch(TimeSpan.Zero);
        var dump = IngestInputs.Write(folder, files: 1, pagesPerFile: 4, seed: 12)[0];
        var watch = shared.Grains.GetGrain<IIngestWatchGrain>(name);
        // A scan that claimed the file and died before it submitted the job.
        var claimed = Assert.Single(await watch.Claim(IngestFolderWatchJob.SettledFiles(folder, new WatchedFolderSettings { Path = folder, SettleTime = TimeSpan.Zero }, DateTimeOffset.UtcNow)));
        Assert.False(claimed.Submitted);
        Assert.Equal(IngestJobPhase.NotSubmitted, (await shared.Grains.GetGrain<IIngestJobGrain>(claimed.JobId).GetStatus()).Phase);

        var report = await job.RunAsync(name);

        Assert.Equal([Path.GetFileName(dump)], report.Submitted);
        var ingest = await WaitForJobAsync(claimed.JobId);
        Assert.True(ingest.Phase == IngestJobPhase.Completed, ingest.Error);
        Assert.Empty((await job.RunAsync(name)).Submitted);
    }

    [Fact]
    public async Task Files_still_being_written_hidden_or_partial_are_left_for_a_later_scan()
    {
        var (job, _, folder, name) = Watch(TimeSpan.FromMinutes(5));
        var dump = IngestInputs.Write(folder, files: 1, pagesPerFile: 2, seed: 13)[0];
        File.Copy(dump, Path.Combine(folder, ".hidden.warc.gz"));
        File.Copy(dump, Path.Combine(folder, "copying.warc.gz.part"));
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not a dump");

        var fresh = await job.RunAsync(name);
        Assert.Equal(0, fresh.SettledFiles);
        Assert.Empty((await shared.Grains.GetGrain<IIngestWatchGrain>(name).GetStatus()).Files);

        // The same folder seen once the settle time has passed.
        var settled = IngestFolderWatchJob.SettledFiles(folder, new WatchedFolderSettings { Path = folder, SettleTime = TimeSpan.FromMinutes(5) }, DateTimeOffset.UtcNow.AddMinutes(6));
        Assert.Equal([Path.GetFileName(dump)], settled.Select(f => f.RelativePath));
        Assert.Equal(new FileInfo(dump).Length, settled[0].SizeBytes);
    }

    private async Task<(IngestFolderWatchJob Job, BlobContainerClient Container, string Url, string Name)> WatchBlobsAsync(TimeSpan settle)
    {
        var container = azurite.Connection.CreateBlobClient().GetBlobContainerClient("drop-" + Guid.NewGuid().ToString("N")[..12]);
        await container.CreateAsync(cancellationToken: TestContext.Current.CancellationToken);
        var url = $"{azurite.Connection.BlobEndpoint.ToString().TrimEnd('/')}/{container.Name}/incoming";
        var name = "blobwatch-" + Guid.NewGuid().ToString("N")[..8];
        var configuration = PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = azurite.Connection.ConnectionString,
            ["IngestWatch:WorkDirectory"] = Path.Combine(root, "work"),
            ["IngestWatch:Folders:0:Path"] = url,
            ["IngestWatch:Folders:0:Name"] = name,
            ["IngestWatch:Folders:0:SettleTime"] = settle.ToString(),
        }).Build());
        return (new IngestFolderWatchJob(shared.Grains, configuration, NullLogger<IngestFolderWatchJob>.Instance), container, url, name);
    }

    [Fact]
    public async Task A_blob_dropped_into_a_watched_container_is_ingested_exactly_once_over_repeated_scans()
    {
        var (job, container, url, name) = await WatchBlobsAsync(TimeSpan.Zero);
        var dump = IngestInputs.Write(Path.Combine(root, "made"), files: 1, pagesPerFile: 6, seed: 14)[0];
        var dropped = Path.GetFileName(dump);
        var ct = TestContext.Current.CancellationToken;
        await container.GetBlobClient("incoming/" + dropped).UploadAsync(dump, ct);
        // Not dumps of this watch: hidden, not matching a pattern, below the prefix's top level, outside the prefix.
        foreach (var other in new[] { "incoming/.hidden.warc.gz", "incoming/notes.txt", "incoming/sub/deeper.warc.gz", "incomingness.warc.gz", "elsewhere/x.warc.gz" })
            await container.GetBlobClient(other).UploadAsync(dump, ct);

        var reports = await Task.WhenAll(job.RunAsync(name), job.RunAsync(name));
        Assert.Equal([dropped], reports.SelectMany(r => r.Submitted).Distinct());
        var status = await shared.Grains.GetGrain<IIngestWatchGrain>(name).GetStatus();
        var claimed = Assert.Single(status.Files);
        Assert.Equal(dropped, claimed.RelativePath);
        Assert.Equal(new FileInfo(dump).Length, claimed.SizeBytes);
        Assert.True(claimed.Submitted);
        var ingest = await WaitForJobAsync(claimed.JobId);
        Assert.True(ingest.Phase == IngestJobPhase.Completed, ingest.Error);
        Assert.Equal($"{url}/{dropped}", Assert.Single(ingest.Units).Input);
        Assert.Equal(new FileInfo(dump).Length, ingest.InputBytesDone);
        Assert.True(ingest.PairsKept > 0);

        for (var scan = 0; scan < 3; scan++)
        {
            var later = await job.RunAsync(name);
            Assert.Equal(1, later.SettledFiles);
            Assert.Empty(later.Submitted);
        }
        Assert.Equal(status.Files, (await shared.Grains.GetGrain<IIngestWatchGrain>(name).GetStatus()).Files);
    }

    [Fact]
    public async Task A_blob_is_left_for_a_later_scan_until_its_last_modified_time_is_older_than_the_settle_time()
    {
        var settle = TimeSpan.FromMinutes(5);
        var (job, container, _, name) = await WatchBlobsAsync(settle);
        await container.GetBlobClient("incoming/fresh.warc.gz").UploadAsync(BinaryData.FromString("fresh"), TestContext.Current.CancellationToken);

        var now = await job.RunAsync(name);
        Assert.Equal(0, now.SettledFiles);
        Assert.Empty((await shared.Grains.GetGrain<IIngestWatchGrain>(name).GetStatus()).Files);

        var settled = await IngestFolderWatchJob.SettledBlobsAsync(container, "incoming/", new WatchedFolderSettings { SettleTime = settle },
            DateTimeOffset.UtcNow.AddMinutes(6), TestContext.Current.CancellationToken);
        Assert.Equal(["fresh.warc.gz"], settled.Select(f => f.RelativePath));
        Assert.Equal(5, settled[0].SizeBytes);
    }

    [Fact]
    public async Task A_missing_watched_folder_fails_the_scan_with_a_message_naming_the_setting()
    {
        var (job, _, folder, name) = Watch(TimeSpan.Zero);
        Directory.Delete(folder);
        var error = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => job.RunAsync(name));
        Assert.Contains(folder, error.Message);
        Assert.Contains("IngestWatch:Folders:N:Path", error.Message);
    }
}

public sealed class IngestWatchSettingsTests
{
    private static PlatformConfigurationException Invalid(Dictionary<string, string?> values) =>
        Assert.Throws<PlatformConfigurationException>(() => PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(values).Build()));

    [Fact]
    public void Each_bad_watch_setting_is_reported_with_its_key_and_environment_variable()
    {
        var error = Invalid(new()
        {
            ["IngestWatch:Folders:0:Path"] = "",
            ["IngestWatch:Folders:1:Path"] = "/data/a/dumps",
            ["IngestWatch:Folders:1:Cron"] = "every minute",
            ["IngestWatch:Folders:2:Path"] = "/data/b/dumps",
            ["IngestWatch:Folders:2:SettleTime"] = "-00:00:05",
            ["Hangfire:SchedulePollingInterval"] = "00:00:00",
        });
        Assert.Contains("IngestWatch:Folders:0:Path (environment variable PLATFORM_IngestWatch__Folders__0__Path) is empty", error.Message);
        Assert.Contains("IngestWatch:Folders:1:Cron (environment variable PLATFORM_IngestWatch__Folders__1__Cron) = 'every minute' is not a cron expression", error.Message);
        Assert.Contains("IngestWatch:Folders:2:SettleTime (environment variable PLATFORM_IngestWatch__Folders__2__SettleTime) = -00:00:05 is negative", error.Message);
        // Both folders are named "dumps" by default.
        Assert.Contains("IngestWatch:Folders:2:Name (environment variable PLATFORM_IngestWatch__Folders__2__Name) = 'dumps' names two watched folders", error.Message);
        Assert.Contains("Hangfire:SchedulePollingInterval", error.Message);
        Assert.Equal(5, error.Problems.Count);
    }

    [Fact]
    public void A_watch_is_named_after_its_folder_unless_named()
    {
        var configuration = PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["IngestWatch:Folders:0:Path"] = "/data/incoming/",
            ["IngestWatch:Folders:1:Path"] = "/data/other",
            ["IngestWatch:Folders:1:Name"] = "crawl-drops",
            ["IngestWatch:Folders:2:Path"] = "https://account.blob.core.windows.net/dumps/new-crawls/",
            ["IngestWatch:Folders:3:Path"] = "https://account.blob.core.windows.net/whole-container",
        }).Build());
        Assert.Equal(["incoming", "crawl-drops", "new-crawls", "whole-container"], configuration.IngestWatch.Folders.Select(f => f.EffectiveName));
        Assert.Equal([false, false, true, true], configuration.IngestWatch.Folders.Select(f => f.IsBlobContainer));
        Assert.Equal(TimeSpan.FromSeconds(30), configuration.IngestWatch.Folders[0].SettleTime);
        Assert.Equal("* * * * *", configuration.IngestWatch.Folders[0].Cron);
    }
}
