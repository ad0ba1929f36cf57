using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Datasets;
using Platform.Grains.Datasets;
using Platform.Grains.Work;
using Platform.Silo.Hosting;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Datasets;

/// <summary>
/// The embedded default's journal of shard commits: the dataset grain writes each commit to it, a torn last line is skipped, and
/// the start-up replay adds what the manifest lost (as Azurite may lose its last writes in a crash) without repeating what it kept.
/// </summary>
public sealed class ShardCommitJournalTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("shard-commit-journal-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static ShardEntry Shard(int n, string? checksum = null) =>
        new($"{n:D5}", 10, 1000, checksum ?? $"sha256-{n:D5}", $"/data/{n:D5}.tar", DateTimeOffset.UnixEpoch.AddMinutes(n));

    [Fact]
    public async Task The_dataset_grain_journals_its_commits_and_the_replay_adds_back_the_ones_the_manifest_lost()
    {
        var journal = new ShardCommitJournal(Path.Combine(root, "journal"));
        await using var cluster = await PlatformTestCluster.StartAsync(azurite.Connection, "journal-" + Guid.NewGuid().ToString("N")[..8], silos: 1,
            configure: (_, silo) => silo.Services.AddSingleton<IShardCommitJournal>(journal));
        var kept = "kept-" + Guid.NewGuid().ToString("N")[..8];
        var lost = "lost-" + Guid.NewGuid().ToString("N")[..8];

        await cluster.Client.GetGrain<IDatasetGrain>(kept).AddShards([Shard(0), Shard(1)]);
        // Already present: not journaled again.
        await cluster.Client.GetGrain<IDatasetGrain>(kept).AddShard(Shard(1));
        Assert.Equal(["00000", "00001"], journal.Read()[kept].Select(s => s.ShardId));

        // What a crash leaves: commits on disk in the journal that the storage never kept (a dataset its grain never saw).
        await journal.AppendAsync(lost, [Shard(0), Shard(1), Shard(2)], TestContext.Current.CancellationToken);
        await new ShardCommitJournalReplay(journal, cluster.Client, Options.Create(new StorageRetryOptions()), NullLogger<ShardCommitJournalReplay>.Instance)
            .ReplayAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["00000", "00001", "00002"], (await cluster.Client.GetGrain<IDatasetGrain>(lost).ListShards(0, 100)).Select(s => s.ShardId));
        Assert.Equal(["00000", "00001"], (await cluster.Client.GetGrain<IDatasetGrain>(kept).ListShards(0, 100)).Select(s => s.ShardId));
        var manifest = await new DatasetManifestStore(azurite.Connection.CreateBlobClient(), PlatformTestCluster.ManifestContainer).ReadAsync(kept, TestContext.Current.CancellationToken);
        Assert.Equal(2, manifest.LinesInLastSegment);
    }

    [Fact]
    public async Task A_line_cut_short_by_a_crash_is_skipped_and_the_first_line_of_a_shard_id_wins()
    {
        var journal = new ShardCommitJournal(Path.Combine(root, "journal"));
        await journal.AppendAsync("a", [Shard(0), Shard(1)], TestContext.Current.CancellationToken);
        await journal.AppendAsync("a", [Shard(1, checksum: "later")], TestContext.Current.CancellationToken);
        await File.AppendAllTextAsync(journal.CommitsPath!, "{\"dataset\":\"a\",\"shard\":{\"shardId\":\"000", TestContext.Current.CancellationToken);

        var read = journal.Read();
        Assert.Equal(["00000", "00001"], read["a"].Select(s => s.ShardId));
        Assert.Equal("sha256-00001", read["a"][1].Checksum);
        Assert.Empty(new ShardCommitJournal(null).Read());
    }

    [Fact]
    public async Task Compaction_keeps_one_small_line_per_dataset_and_commits_journaled_after_it_are_read_as_before()
    {
        var ct = TestContext.Current.CancellationToken;
        var journal = new ShardCommitJournal(Path.Combine(root, "journal"));
        for (var n = 0; n < 1_000; n += 100)
        {
            await journal.AppendAsync("a", [.. Enumerable.Range(n, 100).Select(i => Shard(i))], ct);
            await journal.AppendAsync("b", [Shard(n)], ct);
        }
        Assert.True(new FileInfo(journal.CommitsPath!).Length > 100_000, "the journal was expected to hold about 200 bytes per shard");

        await journal.CompactAsync(ct);

        Assert.True(new FileInfo(journal.CommitsPath!).Length < 100, $"the compacted journal takes {new FileInfo(journal.CommitsPath!).Length} bytes");
        Assert.False(File.Exists(journal.CompactingPath), "the compaction left its temporary file");
        var compacted = journal.Read();
        Assert.Equal(["a", "b"], compacted.Keys.Order(StringComparer.Ordinal));
        Assert.All(compacted.Values, Assert.Empty);

        await journal.AppendAsync("b", [Shard(5_000)], ct);
        await journal.AppendAsync("c", [Shard(0)], ct);
        var read = journal.Read();
        Assert.Equal(["a", "b", "c"], read.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["05000"], read["b"].Select(s => s.ShardId));
        Assert.Equal(["00000"], read["c"].Select(s => s.ShardId));
    }

    [Fact]
    public async Task A_compaction_cut_short_before_its_rename_loses_no_commit_and_the_next_one_writes_over_its_leftover()
    {
        var ct = TestContext.Current.CancellationToken;
        var journal = new ShardCommitJournal(Path.Combine(root, "journal"));
        await journal.AppendAsync("a", [Shard(0), Shard(1)], ct);
        // What a crash between the temporary file's flush and its rename leaves: the new contents beside the untouched journal.
        await File.WriteAllTextAsync(journal.CompactingPath!, "{\"dataset\":\"a\",\"shard\":null}\n{\"dataset\":\"a\",\"sh", ct);

        Assert.Equal(["00000", "00001"], journal.Read()["a"].Select(s => s.ShardId));

        await journal.CompactAsync(ct);
        Assert.False(File.Exists(journal.CompactingPath));
        Assert.Equal(["a"], journal.Read().Keys);
    }
}
