using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using Platform.Grains.Crawling;
using Platform.Grains.Ingestion;
using Platform.Grains.Work;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Work;

/// <summary>
/// Grain state stays under Azure Table's entity limit (about 1 MB) however large the work grows: an ingest job of 20,000 units,
/// a crawl with a 100,000-URL frontier and a folder watch with 100,000 claimed files each store their state on Azurite's real
/// table storage and find it again after their grains were deactivated (the whole cluster stopped and a new one started).
/// </summary>
public sealed class BoundedGrainStateTests(AzuriteFixture azurite) : IDisposable
{
    /// <summary>Far below Azure Table's 1 MB: what one stored row of any of these grains may take at most.</summary>
    private const int MaxRowBytes = 256 << 10;

    private readonly string root = Directory.CreateTempSubdirectory("bounded-state-").FullName;
    private readonly string serviceId = "bounded-" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose() => Directory.Delete(root, recursive: true);

    private Task<InProcessTestCluster> StartAsync() => PlatformTestCluster.StartAsync(azurite.Connection, serviceId, silos: 1);

    [Fact]
    public async Task Each_grain_state_and_each_stored_page_serialises_under_256_KB_at_full_size()
    {
        await using var cluster = await StartAsync();
        var serializer = cluster.Silos[0].SiloHost.Services.GetRequiredService<IGrainStorageSerializer>();
        int Bytes<T>(T value) => serializer.Serialize(value).ToMemory().Length;
        var now = DateTimeOffset.UtcNow;
        string LongPath(int i) => $"/srv/platform/inputs/crawl-2026-12/segment-{i:D6}/warc/CC-MAIN-20261204-{i:D9}-{i:D5}.warc.gz";
        string LongUrl(int i) => $"https://www.example-{i % 97}.org/articles/2026/12/04/{new string('a', 120)}/page-{i}.html?ref={i:D8}";

        // Each state as a grain holding that much work stores it: the growing tables are only counted there.
        var job = new IngestJobState
        {
            Phase = IngestJobPhase.Extracting,
            Request = new IngestJobRequest([LongPath(0)], "/srv/platform/out", new IngestJobSettings(), "dataset"),
            UnitRows = new PagedRowsHead { Generation = 2, Count = 20_000 },
            ShardFetchRows = new PagedRowsHead { Generation = 1, Count = 20_000 },
            ShardWriteRows = new PagedRowsHead { Generation = 1, Count = 20_000 },
            Steps = [.. Enumerable.Range(0, 4).Select(i => new WorkUnitRecord { Index = i, Input = "step", State = WorkUnitState.Done, Attempt = 1 })],
        };
        var crawl = new CrawlJobState
        {
            Phase = CrawlJobPhase.Crawling,
            Request = new CrawlJobRequest([LongUrl(0)], "/srv/platform/crawl", "crawled", new CrawlJobSettings { MaxPages = 100_000 }),
            AllowedDomains = ["example.org"],
            PagesAdmitted = 100_000,
            Stats = Enumerable.Range(0, 40).ToDictionary(i => $"reason_{i}", i => (long)i),
            AdmittedRows = new PagedRowsHead { Generation = 1, Count = 100_000 },
            PendingFrom = 50_000,
            SliceRows = new PagedRowsHead { Generation = 1, Count = 4_000 },
            WarcFileRows = new PagedRowsHead { Generation = 1, Count = 8_000 },
        };
        var watch = new IngestWatchState { Scans = 1_000_000, LastScan = now, FileRows = new PagedRowsHead { Generation = 1, Count = 100_000 } };
        Assert.True(Bytes(job) < MaxRowBytes, $"the ingest job's state takes {Bytes(job)} bytes");
        Assert.True(Bytes(crawl) < MaxRowBytes, $"the crawl's state takes {Bytes(crawl)} bytes");
        Assert.True(Bytes(watch) < MaxRowBytes, $"the watch's state takes {Bytes(watch)} bytes");

        // A full page of each table, with every field as long as it gets in practice.
        var units = new RowPage<WorkUnitRecord>
        {
            Rows = [.. Enumerable.Range(0, IngestJobGrain.RowsPerPage).Select(i => new WorkUnitRecord
            {
                Index = i, Input = LongPath(i), Start = 1L << 40, End = 1L << 41, State = WorkUnitState.Done, Attempt = 5,
                Worker = "S10.0.12.34:11111:123456789", LastError = "lease expired on S10.0.12.34:11111:123456789 " + new string('e', 200),
                Report = new UnitReport(1L << 40, 1L << 30, 1L << 30, 1L << 30, 1L << 40, 1L << 40), Progress = 1L << 40,
            })],
        };
        var admitted = new RowPage<CrawlTargetRecord> { Rows = [.. Enumerable.Range(0, CrawlJobGrain.TargetsPerPage).Select(i => new CrawlTargetRecord(LongUrl(i), i % 2 == 0, 3))] };
        var slices = new RowPage<CrawlSliceRecord>
        {
            Rows = [.. Enumerable.Range(0, CrawlJobGrain.SlicesPerPage).Select(i => new CrawlSliceRecord
            {
                Index = i, State = WorkUnitState.Running, Attempt = 3, Worker = "S10.0.12.34:11111:123456789", LastError = new string('e', 200),
                Targets = [.. Enumerable.Range(0, new CrawlJobSettings().SliceSize).Select(t => new CrawlTargetRecord(LongUrl(t), false, 3))],
            })],
        };
        var warcFiles = new RowPage<string> { Rows = [.. Enumerable.Range(0, CrawlJobGrain.WarcFilesPerPage).Select(LongPath)] };
        var files = new RowPage<WatchedFile>
        {
            Rows = [.. Enumerable.Range(0, IngestWatchGrain.FilesPerPage).Select(i => new WatchedFile(LongPath(i), 1L << 40, now,
                IngestSubmissions.WatchedFileJobId("drops-with-a-long-name", LongPath(i)), now, true))],
        };
        Assert.True(Bytes(units) < MaxRowBytes, $"a page of units takes {Bytes(units)} bytes");
        Assert.True(Bytes(admitted) < MaxRowBytes, $"a page of admitted targets takes {Bytes(admitted)} bytes");
        Assert.True(Bytes(slices) < MaxRowBytes, $"a page of slices takes {Bytes(slices)} bytes");
        Assert.True(Bytes(warcFiles) < MaxRowBytes, $"a page of WARC files takes {Bytes(warcFiles)} bytes");
        Assert.True(Bytes(files) < MaxRowBytes, $"a page of claimed files takes {Bytes(files)} bytes");
    }

    [Fact]
    public async Task Pages_an_activation_wrote_before_it_died_without_storing_their_head_are_written_over_by_the_next()
    {
        await using var cluster = await StartAsync();
        var storage = cluster.Silos[0].SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(Platform.Grains.PlatformStorage.GrainStateProvider);
        var owner = Orleans.Runtime.GrainId.Create("pagedrowstest", Guid.NewGuid().ToString("N"));
        // The first activation starts a generation and stores its pages, then dies before its state (the head) is stored.
        var first = new PagedRows<string>(storage, owner, "rows", new PagedRowsHead(), 3, row => row);
        first.StartGeneration();
        first.Items.AddRange(["a", "b", "c", "d"]);
        await first.WriteAsync();

        // The next one reads the head as it was stored (no rows yet) and redoes the work, with other rows this time.
        var head = new PagedRowsHead();
        var second = new PagedRows<string>(storage, owner, "rows", head, 3, row => row);
        await second.LoadAsync();
        Assert.Empty(second.Items);
        second.StartGeneration();
        second.Items.AddRange(["v", "w", "x", "y", "z"]);
        await second.WriteAsync();

        var reread = new PagedRows<string>(storage, owner, "rows", new PagedRowsHead { Generation = head.Generation, Count = head.Count }, 3, row => row);
        await reread.LoadAsync();
        Assert.Equal(["v", "w", "x", "y", "z"], reread.Items);
    }

    [Fact]
    public async Task Rows_a_crash_left_past_the_stored_head_neither_stop_the_grain_activating_nor_survive_its_next_appends()
    {
        var watchName = "crashed-watch-" + Guid.NewGuid().ToString("N")[..8];
        var written = DateTimeOffset.UtcNow;
        DroppedFile Dropped(string name) => new($"incoming/{name}.warc.gz", 1, written);
        await using (var cluster = await StartAsync())
        {
            var watch = cluster.Client.GetGrain<IIngestWatchGrain>(watchName);
            await watch.Claim([Dropped("a"), Dropped("b"), Dropped("c")]);
            // The crash: a later claim's page reached the table, the state counting its rows (the head) never did.
            var storage = cluster.Silos[0].SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(Platform.Grains.PlatformStorage.GrainStateProvider);
            var page = new GrainState<RowPage<WatchedFile>>(new RowPage<WatchedFile>());
            await storage.ReadStateAsync("ingestwatch-files-g0-p0", watch.GetGrainId(), page);
            Assert.Equal(3, page.State!.Rows.Count);
            page.State.Rows.AddRange([
                new WatchedFile("incoming/lost-1.warc.gz", 1, written, "lost-1", written, false),
                new WatchedFile("incoming/lost-2.warc.gz", 1, written, "lost-2", written, true)]);
            await storage.WriteStateAsync("ingestwatch-files-g0-p0", watch.GetGrainId(), page);
        }

        await using (var cluster = await StartAsync())
        {
            var watch = cluster.Client.GetGrain<IIngestWatchGrain>(watchName);
            Assert.Equal(["incoming/a.warc.gz", "incoming/b.warc.gz", "incoming/c.warc.gz"], (await watch.GetStatus()).Files.Select(f => f.RelativePath));
            await watch.Claim([Dropped("d")]);
        }
        await using (var cluster = await StartAsync())
        {
            var files = (await cluster.Client.GetGrain<IIngestWatchGrain>(watchName).GetStatus()).Files;
            Assert.Equal(["incoming/a.warc.gz", "incoming/b.warc.gz", "incoming/c.warc.gz", "incoming/d.warc.gz"], files.Select(f => f.RelativePath));
            Assert.All(files, f => Assert.False(f.Submitted));
        }
    }

    [Fact]
    public async Task A_head_counting_more_rows_than_the_pages_hold_loads_the_rows_there_and_the_next_claims_lose_and_repeat_none()
    {
        var watchName = "short-watch-" + Guid.NewGuid().ToString("N")[..8];
        var written = DateTimeOffset.UtcNow;
        DroppedFile Dropped(string name) => new($"incoming/{name}.warc.gz", 1, written);
        await using (var cluster = await StartAsync())
        {
            var watch = cluster.Client.GetGrain<IIngestWatchGrain>(watchName);
            await watch.Claim([Dropped("a"), Dropped("b"), Dropped("c"), Dropped("d")]);
            // The crash: the head counting four rows reached the table, the page holding the last two did not (a storage that lost its
            // last seconds of writes keeps an older page).
            var storage = cluster.Silos[0].SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(Platform.Grains.PlatformStorage.GrainStateProvider);
            var page = new GrainState<RowPage<WatchedFile>>(new RowPage<WatchedFile>());
            await storage.ReadStateAsync("ingestwatch-files-g0-p0", watch.GetGrainId(), page);
            page.State!.Rows.RemoveRange(2, 2);
            await storage.WriteStateAsync("ingestwatch-files-g0-p0", watch.GetGrainId(), page);
        }

        await using (var cluster = await StartAsync())
        {
            var watch = cluster.Client.GetGrain<IIngestWatchGrain>(watchName);
            Assert.Equal(["incoming/a.warc.gz", "incoming/b.warc.gz"], (await watch.GetStatus()).Files.Select(f => f.RelativePath));
            // The lost claims are claimed again, once each, beside a new one.
            var unsubmitted = await watch.Claim([Dropped("c"), Dropped("d"), Dropped("e")]);
            Assert.Equal(5, unsubmitted.Count);
        }
        await using (var cluster = await StartAsync())
        {
            var files = (await cluster.Client.GetGrain<IIngestWatchGrain>(watchName).GetStatus()).Files;
            Assert.Equal(["a", "b", "c", "d", "e"], files.Select(f => Path.GetFileName(f.RelativePath)[..1]));
        }
    }

    [Fact]
    public async Task An_archive_whose_head_counts_rows_its_last_page_lost_reads_the_rest_and_appends_after_what_is_there()
    {
        await using var cluster = await StartAsync();
        var storage = cluster.Silos[0].SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(Platform.Grains.PlatformStorage.GrainStateProvider);
        var owner = Orleans.Runtime.GrainId.Create("rowarchivetest", Guid.NewGuid().ToString("N"));
        var head = new RowArchiveHead();
        await new RowArchive<string>(storage, owner, "runs", head, 2, row => row).AppendAsync(["a", "b", "c"]);
        Assert.Equal(3, head.Count);
        // The crash: the head counting three rows was stored, the last page (holding the third) was not.
        var page = new GrainState<RowPage<string>>(new RowPage<string>());
        await storage.ReadStateAsync("runs-p1", owner, page);
        page.State!.Rows.Clear();
        await storage.WriteStateAsync("runs-p1", owner, page);

        var reopened = new RowArchive<string>(storage, owner, "runs", new RowArchiveHead { Count = head.Count }, 2, row => row);
        Assert.Equal(["b", "a"], await reopened.NewestAsync(10));
        await reopened.AppendAsync(["d", "e"]);
        Assert.Equal(["e", "d", "b", "a"], await reopened.NewestAsync(10));
        Assert.Equal(4, reopened.Count);
    }

    [Fact]
    public async Task The_pages_of_a_replaced_generation_are_deleted_from_the_table_once_the_new_head_is_stored()
    {
        await using var cluster = await StartAsync();
        var storage = cluster.Silos[0].SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(Platform.Grains.PlatformStorage.GrainStateProvider);
        var owner = Orleans.Runtime.GrainId.Create("pagedrowstest", Guid.NewGuid().ToString("N"));
        var head = new PagedRowsHead();
        var rows = new PagedRows<string>(storage, owner, "rows", head, 2, row => row);
        rows.StartGeneration();
        rows.Items.AddRange(["a", "b", "c", "d", "e"]);
        await rows.WriteAsync();
        var replaced = head.Generation;
        Assert.True(await PageExistsAsync(replaced, 2), "the first generation's last page was never stored");

        rows.StartGeneration();
        rows.Items.Clear();
        rows.Items.Add("z");
        await rows.WriteAsync();
        await rows.ForgetStaleAsync();

        for (var page = 0; page < 3; page++)
            Assert.False(await PageExistsAsync(replaced, page), $"page {page} of the replaced generation is still a row of the table");
        Assert.True(await PageExistsAsync(head.Generation, 0));

        // Read from the table itself: a page cleared but left as an empty row reads back as no state through the storage.
        async Task<bool> PageExistsAsync(int generation, int page)
        {
            var table = azurite.Connection.CreateTableClient().GetTableClient("OrleansGrainState");
            var pageName = $"rows-g{generation}-p{page}";
            await foreach (var entity in table.QueryAsync<Azure.Data.Tables.TableEntity>(maxPerPage: 1000))
                if (entity.RowKey.Contains(pageName, StringComparison.Ordinal) && entity.PartitionKey.Contains(owner.Key.ToString()!, StringComparison.Ordinal))
                    return true;
            return false;
        }
    }

    [Fact]
    public async Task An_ingest_job_of_20000_units_stores_its_progress_and_finds_it_again_after_a_deactivation()
    {
        const int Units = 20_000;
        var input = WriteWarcOfTinyRecords(Path.Combine(root, "many.warc"), Units);
        // Each record its own unit; long leases, so the units the first cluster left running are not redone while the test looks.
        var settings = new IngestJobSettings { UnitBytes = 64, LeaseTimeout = TimeSpan.FromMinutes(10), DetectLanguage = false };
        var jobId = "bounded-job-" + Guid.NewGuid().ToString("N")[..8];
        int doneBefore;
        await using (var cluster = await StartAsync())
        {
            var job = cluster.Client.GetGrain<IIngestJobGrain>(jobId);
            await job.Submit(new IngestJobRequest([input], Path.Combine(root, "out"), settings));
            var planned = await Platform.Tests.Ingestion.IngestJobGrainTests.WaitUntilPlannedAsync(job);
            Assert.True(planned.Phase == IngestJobPhase.Extracting, planned.Error);
            Assert.Equal(Units, planned.Units.Count);
            // A sample of the units is extracted by the real workers, each completion stored.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
            IngestJobStatus status;
            while ((status = await job.GetStatus()).UnitsDone < 50)
            {
                Assert.True(status.Phase == IngestJobPhase.Extracting, status.Error);
                Assert.True(DateTime.UtcNow < deadline, $"only {status.UnitsDone} units were done in 4 minutes");
                await Task.Delay(500, TestContext.Current.CancellationToken);
            }
            doneBefore = status.UnitsDone;
        }

        // A new cluster: the job's grain is activated afresh from what it stored.
        await using (var cluster = await StartAsync())
        {
            var job = cluster.Client.GetGrain<IIngestJobGrain>(jobId);
            var status = await job.GetStatus();
            Assert.Equal(IngestJobPhase.Extracting, status.Phase);
            Assert.Equal(Units, status.Units.Count);
            Assert.Equal(Enumerable.Range(0, Units), status.Units.Select(u => u.Index));
            Assert.True(status.UnitsDone >= doneBefore, $"{status.UnitsDone} units done after the reactivation, {doneBefore} before");
            // The job goes on: a running unit's completion (as its worker reports it) is taken and stored again.
            var running = status.Units.First(u => u.State == WorkUnitState.Running);
            Assert.True(await job.Complete(new WorkItemId(WorkKind.Unit, running.Index), running.Attempt, new UnitReport(1, 0, 0, 0)));
            var after = await job.GetStatus();
            Assert.Equal(WorkUnitState.Done, after.Units[running.Index].State);
            Assert.Equal(status.UnitsDone + 1, after.UnitsDone);
            doneBefore = after.UnitsDone;
        }
        await using (var cluster = await StartAsync())
        {
            var status = await cluster.Client.GetGrain<IIngestJobGrain>(jobId).GetStatus();
            Assert.Equal(Units, status.Units.Count);
            // The second cluster's workers may have finished more units meanwhile (the job hands out a unit for each one done).
            Assert.True(status.UnitsDone >= doneBefore, $"{status.UnitsDone} units done after the second reactivation, {doneBefore} before");
        }
    }

    [Fact]
    public async Task A_crawl_with_a_100000_url_frontier_stores_it_and_finds_it_again_after_a_deactivation()
    {
        const int Links = 100_000;
        // A host that accepts connections and never answers: the slices out hang, so the frontier stands still while the test looks.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new List<TcpClient>();
        var accepting = Task.Run(async () =>
        {
            try { while (true) held.Add(await silent.AcceptTcpClientAsync(TestContext.Current.CancellationToken)); }
            catch (Exception) { /* the listener stopped */ }
        }, TestContext.Current.CancellationToken);
        var site = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";
        var settings = new CrawlJobSettings
        {
            AllowLoopback = true, MaxPages = 2 * Links, MaxDepth = 5, RequestTimeout = TimeSpan.FromMinutes(2), RobotsTimeout = TimeSpan.FromMinutes(2),
            LeaseTimeout = TimeSpan.FromMinutes(10), MaxSlicesInFlight = 4,
        };
        var crawlId = "bounded-crawl-" + Guid.NewGuid().ToString("N")[..8];
        CrawlJobStatus before;
        try
        {
            await using (var cluster = await StartAsync())
            {
                var crawl = cluster.Client.GetGrain<ICrawlJobGrain>(crawlId);
                await crawl.Start(new CrawlJobRequest([$"{site}/"], Path.Combine(root, "crawl"), "crawled", settings));
                // The seed's slice reports a page with 100,000 links, as its worker would (the real one hangs on the silent host).
                var seed = new CrawlTargetRecord($"{site}/", false, 0);
                var links = Enumerable.Range(0, Links).Select(i => $"{site}/articles/{i:D6}.html").ToList();
                Assert.True(await crawl.Complete(new WorkItemId(WorkKind.CrawlSlice, 0), 1,
                    new SliceReport([], [new SliceDiscovery(seed, links, [])], new Dictionary<string, long>())));
                before = await crawl.GetStatus();
                Assert.Equal(CrawlJobPhase.Crawling, before.Phase);
                Assert.Equal(1 + Links, before.PagesAdmitted);
                Assert.Equal(Links - settings.MaxSlicesInFlight * settings.SliceSize, before.Pending);
            }
            await using (var cluster = await StartAsync())
            {
                var crawl = cluster.Client.GetGrain<ICrawlJobGrain>(crawlId);
                var after = await crawl.GetStatus();
                Assert.Equal(CrawlJobPhase.Crawling, after.Phase);
                Assert.Equal(before.PagesAdmitted, after.PagesAdmitted);
                Assert.Equal(before.Pending, after.Pending);
                Assert.Equal(before.SlicesRunning, after.SlicesRunning);
                var host = Assert.Single(await crawl.GetHosts(10));
                Assert.Equal(1 + Links, host.Seen);
                Assert.Equal(before.Pending, host.Pending);
                Assert.Equal(settings.MaxSlicesInFlight * settings.SliceSize, host.InFlight);
                // The frontier still turns: a slice out reports, and the next slice is cut from the stored queue.
                Assert.True(await crawl.Complete(new WorkItemId(WorkKind.CrawlSlice, 1), 1, new SliceReport([], [], new Dictionary<string, long>())));
                Assert.Equal(before.Pending - settings.SliceSize, (await crawl.GetStatus()).Pending);
            }
        }
        finally
        {
            silent.Stop();
            await accepting;
            foreach (var client in held) client.Dispose();
        }
    }

    [Fact]
    public async Task A_watch_with_100000_claimed_files_stores_them_and_finds_them_again_after_a_deactivation()
    {
        const int Files = 100_000;
        var watchName = "bounded-watch-" + Guid.NewGuid().ToString("N")[..8];
        var written = DateTimeOffset.UtcNow;
        var dropped = Enumerable.Range(0, Files).Select(i => new DroppedFile($"incoming/2026/12/dump-{i:D6}.warc.gz", 1000 + i, written)).ToList();
        await using (var cluster = await StartAsync())
        {
            var watch = cluster.Client.GetGrain<IIngestWatchGrain>(watchName);
            Assert.Equal(Files, (await watch.Claim(dropped)).Count);
            await watch.MarkSubmitted([.. dropped.Where((_, i) => i % 2 == 0).Select(f => f.RelativePath)]);
        }
        await using (var cluster = await StartAsync())
        {
            var watch = cluster.Client.GetGrain<IIngestWatchGrain>(watchName);
            var status = await watch.GetStatus();
            Assert.Equal(Files, status.Files.Count);
            Assert.Equal(Files / 2, status.Files.Count(f => f.Submitted));
            Assert.Equal(1, status.Scans);
            // Claimed files are not claimed again; the unsubmitted ones come back, with the one new file.
            var again = await watch.Claim([.. dropped, new DroppedFile("incoming/new.warc.gz", 1, written)]);
            Assert.Equal(Files / 2 + 1, again.Count);
            Assert.All(again, f => Assert.False(f.Submitted));
            Assert.Equal(dropped[1].RelativePath, again.First(f => f.RelativePath != "incoming/new.warc.gz").RelativePath);
        }
    }

    /// <summary>An uncompressed WARC of <paramref name="records"/> small metadata records (no pages: a unit reads one and is done).</summary>
    private static string WriteWarcOfTinyRecords(string path, int records)
    {
        using var file = new StreamWriter(path, append: false, new UTF8Encoding(false)) { NewLine = "\r\n" };
        for (var i = 0; i < records; i++)
        {
            const string body = "note";
            file.Write($"WARC/1.0\r\nWARC-Type: metadata\r\nWARC-Record-ID: <urn:uuid:{new Guid(i, 0, 0, new byte[8]):D}>\r\n"
                + $"WARC-Date: 2026-12-04T00:00:00Z\r\nWARC-Target-URI: https://example.org/{i}\r\nContent-Type: text/plain\r\n"
                + $"Content-Length: {body.Length}\r\n\r\n{body}\r\n\r\n");
        }
        return path;
    }
}
