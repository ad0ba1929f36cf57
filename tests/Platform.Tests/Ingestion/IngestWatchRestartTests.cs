using System.Net;
using Microsoft.Extensions.Configuration;
using Platform.Grains.Ingestion;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

/// <summary>The folder watch as a user runs it: `platform up` configured with a watched folder and a watched blob container, Hangfire's recurring scans, a restart in between.</summary>
public sealed class IngestWatchRestartTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private readonly string root = Directory.CreateTempSubdirectory("ingest-watch-restart-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task The_recurring_watch_ingests_each_new_dump_exactly_once_across_a_restart()
    {
        var drop = Directory.CreateDirectory(Path.Combine(root, "drop")).FullName;
        var dumps = IngestInputs.Write(Path.Combine(root, "made"), files: 2, pagesPerFile: 4, seed: 21);
        var storage = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var dataDirectory = Directory.CreateDirectory(Path.Combine(root, "platform")).FullName;
        var gatewayPort = AzuriteEmulator.FreeTcpPort();
        var environment = new Dictionary<string, string>
        {
            ["PLATFORM_Hangfire__SchedulePollingInterval"] = "00:00:01",
            ["PLATFORM_IngestWatch__WorkDirectory"] = Path.Combine(root, "work"),
            ["PLATFORM_IngestWatch__Folders__0__Path"] = drop,
            ["PLATFORM_IngestWatch__Folders__0__Name"] = "drops",
            ["PLATFORM_IngestWatch__Folders__0__Cron"] = "*/2 * * * * *",
            ["PLATFORM_IngestWatch__Folders__0__SettleTime"] = "00:00:00",
            // The same, for a blob container in the platform's own storage (created once the platform has started it).
            ["PLATFORM_IngestWatch__Folders__1__Path"] = $"{storage.BlobEndpoint.ToString().TrimEnd('/')}/drops/incoming",
            ["PLATFORM_IngestWatch__Folders__1__Name"] = "blobdrops",
            ["PLATFORM_IngestWatch__Folders__1__Cron"] = "*/2 * * * * *",
            ["PLATFORM_IngestWatch__Folders__1__SettleTime"] = "00:00:00",
        };
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var client = PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = storage.ConnectionString,
            ["Clustering:GatewayPort"] = gatewayPort.ToString(),
            ["Clustering:ServiceId"] = PlatformProcess.ServiceId,
        }).Build());
        var first = Path.GetFileName(dumps[0]);
        var second = Path.GetFileName(dumps[1]);
        WatchedFile firstRecord, firstBlobRecord;
        long scansBeforeRestart;
        var container = storage.CreateBlobClient().GetBlobContainerClient("drops");

        await using (var platform = PlatformProcess.StartUp(environment, storage, dataDirectory, gatewayPort))
        {
            await platform.WaitUntilHealthyAsync(http, StartTimeout);
            using (var recurring = await http.GetAsync(new Uri(platform.BaseAddress, "/hangfire/recurring"), TestContext.Current.CancellationToken))
            {
                Assert.Equal(HttpStatusCode.OK, recurring.StatusCode);
                Assert.Contains("ingest-watch-drops", await recurring.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            }
            DropInto(drop, dumps[0]);
            await container.CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);
            await container.GetBlobClient("incoming/" + first).UploadAsync(dumps[0], TestContext.Current.CancellationToken);
            await using var connection = await PlatformClient.ConnectAsync(client, TestContext.Current.CancellationToken);
            var watch = connection.Grains.GetGrain<IIngestWatchGrain>("drops");
            var blobWatch = connection.Grains.GetGrain<IIngestWatchGrain>("blobdrops");
            firstRecord = await WaitForIngestedAsync(connection.Grains, watch, first);
            firstBlobRecord = await WaitForIngestedAsync(connection.Grains, blobWatch, first);
            // Let the recurring jobs scan the folder and the container again a few times: nothing is taken twice.
            var scans = (await watch.GetStatus()).Scans;
            var blobScans = (await blobWatch.GetStatus()).Scans;
            await WaitUntilAsync(async () => (await watch.GetStatus()).Scans >= scans + 3 && (await blobWatch.GetStatus()).Scans >= blobScans + 3, "three more scans");
            var status = await watch.GetStatus();
            Assert.Equal(firstRecord, Assert.Single(status.Files));
            Assert.Equal(firstBlobRecord, Assert.Single((await blobWatch.GetStatus()).Files));
            scansBeforeRestart = status.Scans;
            await platform.StopAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, platform.Process.ExitCode);
        }

        // Dropped while the platform is down: picked up at the next start.
        DropInto(drop, dumps[1]);
        await using (var platform = PlatformProcess.StartUp(environment, storage, dataDirectory, gatewayPort))
        {
            await platform.WaitUntilHealthyAsync(http, StartTimeout);
            await using var connection = await PlatformClient.ConnectAsync(client, TestContext.Current.CancellationToken);
            var watch = connection.Grains.GetGrain<IIngestWatchGrain>("drops");
            var secondRecord = await WaitForIngestedAsync(connection.Grains, watch, second);
            var status = await watch.GetStatus();
            Assert.True(status.Scans > scansBeforeRestart);
            Assert.Equal([firstRecord, secondRecord], status.Files);
            Assert.NotEqual(firstRecord.JobId, secondRecord.JobId);
            var firstJob = await connection.Grains.GetGrain<IIngestJobGrain>(firstRecord.JobId).GetStatus();
            Assert.Equal(1, Assert.Single(firstJob.Units).Attempt);
            // The container's storage lives with the platform, so its next blob arrives after the restart.
            var blobWatch = connection.Grains.GetGrain<IIngestWatchGrain>("blobdrops");
            await container.GetBlobClient("incoming/" + second).UploadAsync(dumps[1], TestContext.Current.CancellationToken);
            var secondBlobRecord = await WaitForIngestedAsync(connection.Grains, blobWatch, second);
            Assert.Equal([firstBlobRecord, secondBlobRecord], (await blobWatch.GetStatus()).Files);
            var firstBlobJob = await connection.Grains.GetGrain<IIngestJobGrain>(firstBlobRecord.JobId).GetStatus();
            Assert.Equal(1, Assert.Single(firstBlobJob.Units).Attempt);
            Assert.Equal($"{storage.BlobEndpoint.ToString().TrimEnd('/')}/drops/incoming/{first}", firstBlobJob.Units[0].Input);
            Assert.Equal(4, Directory.GetDirectories(Path.Combine(root, "work")).Length);
            await platform.StopAsync(TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>Written under a hidden name and renamed, as a careful uploader does, so the watch never sees half a file.</summary>
    private static void DropInto(string folder, string dump)
    {
        var hidden = Path.Combine(folder, "." + Path.GetFileName(dump));
        File.Copy(dump, hidden);
        File.Move(hidden, Path.Combine(folder, Path.GetFileName(dump)));
    }

    private static async Task<WatchedFile> WaitForIngestedAsync(IGrainFactory grains, IIngestWatchGrain watch, string file)
    {
        WatchedFile? record = null;
        await WaitUntilAsync(async () =>
        {
            record = (await watch.GetStatus()).Files.FirstOrDefault(f => f.RelativePath == file && f.Submitted);
            return record is not null && (await grains.GetGrain<IIngestJobGrain>(record.JobId).GetStatus()).IsOver;
        }, $"{file} ingested");
        var job = await grains.GetGrain<IIngestJobGrain>(record!.JobId).GetStatus();
        Assert.True(job.Phase == IngestJobPhase.Completed, job.Error);
        Assert.True(job.PairsKept > 0);
        return record;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited two minutes for {what}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }
}
