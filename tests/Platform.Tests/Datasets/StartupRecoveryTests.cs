using System.Security.Cryptography;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Datasets;
using Platform.Grains.Datasets;
using Platform.Grains.Work;
using Platform.Silo.Health;
using Platform.Silo.Hosting;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Datasets;

/// <summary>
/// The embedded default's start-up recovery on a real cluster and storage: the journaled commits the manifest lost are added back
/// first, then every manifest is checked against its shard files, and what is damaged is reported (and left as it is).
/// </summary>
[Collection(SharedClusterCollection.Name)]
public sealed class StartupRecoveryTests(SharedClusterFixture shared, AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("startup-recovery-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private ShardEntry Commit(string folder, int n, byte[] contents)
    {
        var path = Path.Combine(Directory.CreateDirectory(Path.Combine(root, folder)).FullName, $"{n:D5}.tar");
        File.WriteAllBytes(path, contents);
        return new ShardEntry($"{n:D5}", 1, contents.Length, Convert.ToHexStringLower(SHA256.HashData(contents)), path, DateTimeOffset.UnixEpoch);
    }

    [Fact]
    public async Task Lost_commits_are_added_back_before_the_check_which_reports_overwritten_and_missing_tars_the_added_back_ones_too_and_changes_none()
    {
        var ct = TestContext.Current.CancellationToken;
        var damaged = "damaged-" + Guid.NewGuid().ToString("N")[..8];
        var lost = "lost-" + Guid.NewGuid().ToString("N")[..8];
        var overwritten = Commit(damaged, 0, [1, 2, 3]);
        var missing = Commit(damaged, 1, [4, 5]);
        await shared.Grains.GetGrain<IDatasetGrain>(damaged).AddShards([overwritten, missing]);
        var journal = new ShardCommitJournal(Path.Combine(root, "journal"));
        await journal.AppendAsync(damaged, [overwritten, missing], ct);
        File.WriteAllBytes(overwritten.Location, [9, 9, 9]);
        File.Delete(missing.Location);
        // A dataset of the same storage that this host never committed to: damaged too, but not this host's to report.
        var foreign = "foreign-" + Guid.NewGuid().ToString("N")[..8];
        var foreignShard = Commit(foreign, 0, [6, 6]);
        await shared.Grains.GetGrain<IDatasetGrain>(foreign).AddShards([foreignShard]);
        File.Delete(foreignShard.Location);
        // Committed and journaled, but the storage lost the manifest append (a dataset its grain never saw); one of its tars is gone
        // too, which the check must still see in the shards the re-drive has just added back.
        var lostShard = Commit(lost, 0, [7, 7]);
        var lostAndMissing = Commit(lost, 1, [8, 8]);
        await journal.AppendAsync(lost, [lostShard, lostAndMissing], ct);
        File.Delete(lostAndMissing.Location);

        var board = new DatasetCheckBoard();
        var retry = Options.Create(new StorageRetryOptions());
        using var recovery = new StartupRecovery(
            new ShardCommitJournalReplay(journal, shared.Grains, retry, NullLogger<ShardCommitJournalReplay>.Instance),
            new SubmissionJournalReplay(new SubmissionJournal(null), shared.Grains, NullLogger<SubmissionJournalReplay>.Instance),
            new DatasetManifestStore(azurite.Connection.CreateBlobClient(), PlatformTestCluster.ManifestContainer), board, NullLogger<StartupRecovery>.Instance);
        await recovery.StartAsync(ct);
        await recovery.ExecuteTask!.WaitAsync(TimeSpan.FromMinutes(2), ct);

        Assert.Null(board.Error);
        var results = board.Results!.ToDictionary(r => r.Dataset);
        Assert.Equal([damaged, lost], results.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["00000", "00001"], (await shared.Grains.GetGrain<IDatasetGrain>(lost).ListShards(0, 100)).Select(s => s.ShardId));
        Assert.Equal(2, results[lost].ShardsChecked);
        Assert.Equal([(ManifestProblemKind.TarMissing, "00001")], results[lost].Problems.Select(p => (p.Kind, p.ShardId)));
        Assert.Equal([(ManifestProblemKind.ChecksumDiffers, "00000"), (ManifestProblemKind.TarMissing, "00001")],
            results[damaged].Problems.Select(p => (p.Kind, p.ShardId)).Order());
        Assert.Equal([9, 9, 9], File.ReadAllBytes(overwritten.Location));
        Assert.False(File.Exists(missing.Location));
    }

    [Fact]
    public async Task After_a_clean_stop_the_tars_are_only_looked_for_and_after_a_crash_every_one_is_hashed()
    {
        var ct = TestContext.Current.CancellationToken;
        var dataset = "clean-" + Guid.NewGuid().ToString("N")[..8];
        var kept = Commit(dataset, 0, [1, 2, 3]);
        var missing = Commit(dataset, 1, [4, 5]);
        await shared.Grains.GetGrain<IDatasetGrain>(dataset).AddShards([kept, missing]);
        var journal = new ShardCommitJournal(Path.Combine(root, "journal"));
        await journal.AppendAsync(dataset, [kept, missing], ct);
        File.Delete(missing.Location);
        var marker = new CleanStopMarker(Path.Combine(root, "journal"));
        var lifetime = new Microsoft.Extensions.Hosting.Internal.ApplicationLifetime(NullLogger<Microsoft.Extensions.Hosting.Internal.ApplicationLifetime>.Instance);
        marker.Leave();

        var afterCleanStop = await RunRecoveryAsync();
        Assert.Equal((2, 0), (afterCleanStop.ShardsChecked, afterCleanStop.ShardsHashed));
        Assert.Equal([(ManifestProblemKind.TarMissing, "00001")], afterCleanStop.Problems.Select(p => (p.Kind, p.ShardId)));
        Assert.False(File.Exists(marker.Path), "the marker stays while this run may still crash");
        // Every append of a cleanly stopped run is in its manifest: the journal keeps only the dataset's name.
        Assert.Empty(Assert.Single(journal.Read(), d => d.Key == dataset).Value);
        Assert.True(new FileInfo(journal.CommitsPath!).Length < 100, $"the compacted journal takes {new FileInfo(journal.CommitsPath!).Length} bytes");

        // The compacted journal still names the dataset, so the check after a crash covers (and hashes) it.
        var afterCrash = await RunRecoveryAsync();
        Assert.Equal((2, 1), (afterCrash.ShardsChecked, afterCrash.ShardsHashed));

        lifetime.NotifyStopped();
        Assert.True(File.Exists(marker.Path), "a host that stopped left no marker");

        async Task<DatasetCheckResult> RunRecoveryAsync()
        {
            var board = new DatasetCheckBoard();
            var retry = Options.Create(new StorageRetryOptions());
            using var recovery = new StartupRecovery(
                new ShardCommitJournalReplay(journal, shared.Grains, retry, NullLogger<ShardCommitJournalReplay>.Instance),
                new SubmissionJournalReplay(new SubmissionJournal(null), shared.Grains, NullLogger<SubmissionJournalReplay>.Instance),
                new DatasetManifestStore(azurite.Connection.CreateBlobClient(), PlatformTestCluster.ManifestContainer), board, NullLogger<StartupRecovery>.Instance,
                marker, lifetime);
            await recovery.StartAsync(ct);
            await recovery.ExecuteTask!.WaitAsync(TimeSpan.FromMinutes(2), ct);
            Assert.Null(board.Error);
            return Assert.Single(board.Results!);
        }
    }

    [Fact]
    public async Task A_compaction_that_crashed_before_its_rename_leaves_the_journal_whole_and_the_next_start_adds_the_lost_commits_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var lost = "lost-" + Guid.NewGuid().ToString("N")[..8];
        var shards = new[] { Commit(lost, 0, [1, 1]), Commit(lost, 1, [2, 2]) };
        var journal = new ShardCommitJournal(Path.Combine(root, "journal"));
        await journal.AppendAsync(lost, shards, ct);
        // The crash: the compacted contents were flushed to the temporary file, the rename never happened, and the storage lost the
        // manifest appends (a dataset its grain never saw).
        await File.WriteAllTextAsync(journal.CompactingPath!, $"{{\"dataset\":\"{lost}\",\"shard\":null}}\n", ct);

        var board = new DatasetCheckBoard();
        using var recovery = new StartupRecovery(
            new ShardCommitJournalReplay(journal, shared.Grains, Options.Create(new StorageRetryOptions()), NullLogger<ShardCommitJournalReplay>.Instance),
            new SubmissionJournalReplay(new SubmissionJournal(null), shared.Grains, NullLogger<SubmissionJournalReplay>.Instance),
            new DatasetManifestStore(azurite.Connection.CreateBlobClient(), PlatformTestCluster.ManifestContainer), board, NullLogger<StartupRecovery>.Instance,
            new CleanStopMarker(Path.Combine(root, "journal")));
        await recovery.StartAsync(ct);
        await recovery.ExecuteTask!.WaitAsync(TimeSpan.FromMinutes(2), ct);

        Assert.Null(board.Error);
        Assert.Equal(["00000", "00001"], (await shared.Grains.GetGrain<IDatasetGrain>(lost).ListShards(0, 100)).Select(s => s.ShardId));
        var result = Assert.Single(board.Results!);
        Assert.Equal((2, 2), (result.ShardsChecked, result.ShardsHashed));
        Assert.Empty(result.Problems);
    }

    [Fact]
    public async Task A_new_state_without_a_journal_or_a_clean_stop_marker_logs_that_nothing_is_to_check_not_that_the_last_run_crashed()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Path.Combine(root, "new-state");
        var logger = new RecordingLogger<StartupRecovery>();
        var board = new DatasetCheckBoard();
        using var recovery = new StartupRecovery(
            new ShardCommitJournalReplay(new ShardCommitJournal(folder), shared.Grains, Options.Create(new StorageRetryOptions()), NullLogger<ShardCommitJournalReplay>.Instance),
            new SubmissionJournalReplay(new SubmissionJournal(null), shared.Grains, NullLogger<SubmissionJournalReplay>.Instance),
            new DatasetManifestStore(azurite.Connection.CreateBlobClient(), PlatformTestCluster.ManifestContainer), board, logger,
            new CleanStopMarker(folder));
        await recovery.StartAsync(ct);
        await recovery.ExecuteTask!.WaitAsync(TimeSpan.FromMinutes(2), ct);

        Assert.Empty(board.Results!);
        var line = Assert.Single(logger.Lines, l => l.StartsWith("Dataset check:", StringComparison.Ordinal));
        Assert.Equal("Dataset check: this host's journal names no dataset, so there is nothing to check", line);
    }

    /// <summary>Keeps every formatted log line, to read what a host would print.</summary>
    private sealed class RecordingLogger<T> : ILogger<T>
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines) Lines.Add(formatter(state, exception));
        }
    }

    [Fact]
    public async Task The_datasets_health_entry_is_degraded_only_by_damage_to_committed_shards()
    {
        var board = new DatasetCheckBoard();
        var check = new DatasetCheckHealthCheck(board);
        var context = new HealthCheckContext();
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(context, TestContext.Current.CancellationToken)).Status);

        board.Checked([new DatasetCheckResult("d", 3, [new ManifestProblem(ManifestProblemKind.TarNotInManifest, "/x/00003.tar", null, "unlisted")])]);
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(context, TestContext.Current.CancellationToken)).Status);

        board.Checked([new DatasetCheckResult("d", 3, [new ManifestProblem(ManifestProblemKind.ChecksumDiffers, "/x/00001.tar", "00001", "shard 00001 differs")])]);
        var degraded = await check.CheckHealthAsync(context, TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("shard 00001 differs", (string[])degraded.Data["problems"]);
    }
}
