using Azure.Data.Tables;
using Platform.Grains.Datasets;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

[Collection(SharedClusterCollection.Name)]
public sealed class DatasetGrainTests(SharedClusterFixture shared, AzuriteFixture azurite)
{
    private static ShardEntry Shard(int n, long samples = 100, string? checksum = null) =>
        new($"{n:D5}", samples, samples * 1000, checksum ?? $"sha256-{n:D5}", $"shards/{n:D5}.tar", DateTimeOffset.UnixEpoch.AddMinutes(n));

    private static string NewDataset(string stem) => $"{stem}-{Guid.NewGuid():N}";

    [Fact]
    public async Task Concurrent_idempotent_adds_never_duplicate_a_shard()
    {
        var dataset = shared.Grains.GetGrain<IDatasetGrain>(NewDataset("concurrent"));
        const int shards = 40;
        // Each shard is offered 6 times: singly and inside overlapping batches, all at once.
        var singles = Enumerable.Range(0, shards).SelectMany(n => Enumerable.Repeat(n, 3))
            .Select(n => dataset.AddShard(Shard(n)).ContinueWith(t => (Added: t.Result == ShardAddResult.Added ? 1 : 0, Present: t.Result == ShardAddResult.AlreadyPresent ? 1 : 0)));
        var batches = Enumerable.Range(0, 12)
            .Select(b => dataset.AddShards(Enumerable.Range(b * 3, 10).Select(n => Shard(n % shards)).ToArray())
                .ContinueWith(t => (t.Result.Added, Present: t.Result.AlreadyPresent)));
        var results = await Task.WhenAll(singles.Concat(batches));

        Assert.Equal(shards, results.Sum(r => r.Added));
        var listed = await dataset.ListShards(0, 1000);
        Assert.Equal(shards, listed.Count);
        Assert.Equal(shards, listed.Select(s => s.ShardId).Distinct().Count());
        var totals = await dataset.GetTotals();
        Assert.Equal(shards, totals.ShardCount);
        Assert.Equal(shards * 100L, totals.SampleCount);
    }

    [Fact]
    public async Task Shard_numbers_are_reserved_once_per_job_after_everything_committed_or_reserved()
    {
        var dataset = shared.Grains.GetGrain<IDatasetGrain>(NewDataset("reserve"));
        await dataset.AddShards([Shard(0), Shard(4)]);

        var a = await dataset.ReserveShardNumbers("job-a", 3, atLeast: 0);
        var b = await dataset.ReserveShardNumbers("job-b", 2, atLeast: 0);
        var c = await dataset.ReserveShardNumbers("job-c", 1, atLeast: 20);

        Assert.Equal(5, a);
        Assert.Equal(8, b);
        Assert.Equal(20, c);
        Assert.Equal(a, await dataset.ReserveShardNumbers("job-a", 3, atLeast: 99));
        // The last range may grow; one with later ranges after it may not.
        Assert.Equal(c, await dataset.ReserveShardNumbers("job-c", 4, atLeast: 0));
        Assert.Equal(24, await dataset.ReserveShardNumbers("job-d", 1, atLeast: 0));
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => dataset.ReserveShardNumbers("job-a", 5, atLeast: 0));
        Assert.Contains("new job id", refused.Message);
    }

    [Fact]
    public async Task Concurrent_reservations_never_overlap()
    {
        var dataset = shared.Grains.GetGrain<IDatasetGrain>(NewDataset("reserve-concurrent"));
        var sizes = Enumerable.Range(1, 30).ToArray();
        var firsts = await Task.WhenAll(sizes.Select(n => dataset.ReserveShardNumbers($"job-{n}", n, atLeast: 0)));

        var numbers = firsts.Zip(sizes).SelectMany(p => Enumerable.Range(p.First, p.Second)).ToList();
        Assert.Equal(numbers.Count, numbers.Distinct().Count());
        Assert.Equal(sizes.Sum(), numbers.Count);
    }

    [Fact]
    public async Task A_second_shard_with_the_same_id_but_another_checksum_is_refused_and_the_first_kept()
    {
        var dataset = shared.Grains.GetGrain<IDatasetGrain>(NewDataset("conflict"));
        Assert.Equal(ShardAddResult.Added, await dataset.AddShard(Shard(1, checksum: "aaa")));
        Assert.Equal(ShardAddResult.ConflictingChecksum, await dataset.AddShard(Shard(1, samples: 7, checksum: "bbb")));
        Assert.Equal(ShardAddResult.AlreadyPresent, await dataset.AddShard(Shard(1, checksum: "AAA")));
        var kept = await dataset.GetShard("00001");
        Assert.NotNull(kept);
        Assert.Equal("aaa", kept.Checksum);
        Assert.Equal(100, kept.SampleCount);
    }

    [Fact]
    public async Task An_invalid_dataset_name_is_refused_with_a_message_saying_what_is_allowed()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => shared.Grains.GetGrain<IDatasetGrain>("../escape").GetTotals());
        Assert.Contains("not a valid dataset name", error.ToString());
    }

    [Fact]
    public async Task The_manifest_survives_a_restart_of_the_whole_cluster_with_the_same_service_id()
    {
        var serviceId = "restart-" + Guid.NewGuid().ToString("N")[..8];
        const string name = "restart-dataset";
        var first = await PlatformTestCluster.StartAsync(azurite.Connection, serviceId);
        IReadOnlyList<ShardEntry> before;
        try
        {
            var dataset = first.Client.GetGrain<IDatasetGrain>(name);
            await dataset.AddShards(Enumerable.Range(0, 25).Select(n => Shard(n, samples: n + 1)).ToArray());
            before = await dataset.ListShards(0, 100);
        }
        finally
        {
            await first.DisposeAsync();
        }

        var second = await PlatformTestCluster.StartAsync(azurite.Connection, serviceId);
        try
        {
            var dataset = second.Client.GetGrain<IDatasetGrain>(name);
            var totals = await dataset.GetTotals();
            Assert.Equal(25, totals.ShardCount);
            Assert.Equal(Enumerable.Range(1, 25).Sum(), totals.SampleCount);
            Assert.Equal(before, await dataset.ListShards(0, 100));
            Assert.Equal(ShardAddResult.AlreadyPresent, await dataset.AddShard(Shard(3, samples: 4)));
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_manifest_of_fifty_thousand_shards_works_and_keeps_the_table_state_small()
    {
        var serviceId = "large-" + Guid.NewGuid().ToString("N")[..8];
        const string name = "large-dataset";
        const int total = 50_000;
        var first = await PlatformTestCluster.StartAsync(azurite.Connection, serviceId, silos: 1);
        try
        {
            var dataset = first.Client.GetGrain<IDatasetGrain>(name);
            for (var start = 0; start < total; start += 2_500)
            {
                var result = await dataset.AddShards(Enumerable.Range(start, 2_500).Select(n => Shard(n, samples: 10)).ToArray());
                Assert.Equal(2_500, result.Added);
            }
            Assert.Equal(ShardAddResult.Added, await dataset.AddShard(Shard(total, samples: 10)));
        }
        finally
        {
            await first.DisposeAsync();
        }

        // A fresh cluster reloads the whole manifest from blob storage.
        var second = await PlatformTestCluster.StartAsync(azurite.Connection, serviceId, silos: 1);
        try
        {
            var dataset = second.Client.GetGrain<IDatasetGrain>(name);
            var totals = await dataset.GetTotals();
            Assert.Equal(total + 1, totals.ShardCount);
            Assert.Equal((total + 1) * 10L, totals.SampleCount);
            var tail = await dataset.ListShards(total - 1, 10);
            Assert.Equal(["49999", "50000"], tail.Select(s => s.ShardId));
            Assert.Equal(ShardAddResult.AlreadyPresent, await dataset.AddShard(Shard(12_345, samples: 10)));
        }
        finally
        {
            await second.DisposeAsync();
        }

        // The table row that holds the grain's state stays far below the ~1 MB entity limit.
        var table = new TableServiceClient(azurite.Connection.ConnectionString).GetTableClient("OrleansGrainState");
        var rows = new List<TableEntity>();
        await foreach (var row in table.QueryAsync<TableEntity>(cancellationToken: TestContext.Current.CancellationToken))
        {
            if (row.PartitionKey.StartsWith(serviceId, StringComparison.Ordinal) && row.PartitionKey.EndsWith(name, StringComparison.Ordinal))
                rows.Add(row);
        }
        var row0 = Assert.Single(rows);
        var bytes = row0.Select(p => p.Value).Sum(v => v switch { byte[] b => b.Length, string s => s.Length * 2, _ => 8 });
        Assert.InRange(bytes, 1, 16 * 1024);
    }
}
