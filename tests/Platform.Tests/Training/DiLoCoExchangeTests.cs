using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>
/// <see cref="DiLoCoExchange"/>, what a multi-trainer run's replicas and coordinator share, in both its stores: a folder (the
/// layout runs have always had there) and a prefix of a blob container on Azurite (for silos with no folder in common).
/// </summary>
public sealed class DiLoCoExchangeTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("diloco-exchange-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string BlobLocation() => $"{azurite.Connection.CreateBlobClient().Uri.ToString().TrimEnd('/')}/exchange-{Guid.NewGuid():N}/runs/run-1/diloco";

    private Task<DiLoCoExchange> OpenAsync(string store) => DiLoCoExchange.OpenAsync(
        store == "blob" ? BlobLocation() : Path.Combine(root, "run-1", "diloco"), azurite.Connection.CreateBlobClient(), TestContext.Current.CancellationToken);

    private static OuterOptimizer Outer(int rounds)
    {
        var outer = new OuterOptimizer([new NamedArray("a", [1f, 2f, 3f]), new NamedArray("b", [4f])], 0.7, 0.9);
        for (int round = 0; round < rounds; round++) outer.Step([new NamedArray("a", [0.5f, -0.5f, 0.25f]), new NamedArray("b", [1f])]);
        return outer;
    }

    [Theory]
    [InlineData("folder")]
    [InlineData("blob")]
    public async Task An_outer_state_is_read_only_once_its_latest_names_it_and_then_whole(string store)
    {
        var ct = TestContext.Current.CancellationToken;
        var exchange = await OpenAsync(store);
        Assert.Null(await OuterOptimizer.LoadLatestAsync(exchange, DiLoCoExchange.OuterFolder, ct));
        await Outer(1).SaveAsync(exchange, DiLoCoExchange.OuterFolder, ct);

        // A writer that died after some of round 2's files: readers still get round 1, whole.
        await exchange.PutAsync($"{DiLoCoExchange.OuterFolder}/{Checkpoint.FolderName(2)}/weights.bin", [1, 2, 3], ct);
        var loaded = (await OuterOptimizer.LoadLatestAsync(exchange, DiLoCoExchange.OuterFolder, ct))!;
        Assert.Equal(1, loaded.Round);
        Assert.Equal(Outer(1).Weights.Select(w => w.Values), loaded.Weights.Select(w => w.Values));
        Assert.Equal(Outer(1).MomentumBuffer.Select(w => w.Values), loaded.MomentumBuffer.Select(w => w.Values));

        var second = Outer(2);
        await second.SaveAsync(exchange, DiLoCoExchange.OuterFolder, ct);
        loaded = (await OuterOptimizer.LoadLatestAsync(exchange, DiLoCoExchange.OuterFolder, ct))!;
        Assert.Equal(2, loaded.Round);
        Assert.Equal(second.Weights.Select(w => w.Values), loaded.Weights.Select(w => w.Values));
        Assert.Equal(second.Weights.Select(w => w.Values), (await OuterOptimizer.ReadWeightsAsync(exchange, DiLoCoExchange.OuterFolder, 2, ct)).Select(w => w.Values));

        await OuterOptimizer.DeleteBeforeAsync(exchange, DiLoCoExchange.OuterFolder, 2, ct);
        Assert.Equal([2], await exchange.StateStepsAsync(DiLoCoExchange.OuterFolder, ct));
        Assert.Equal(2, (await OuterOptimizer.LoadLatestAsync(exchange, DiLoCoExchange.OuterFolder, ct))!.Round);
    }

    [Theory]
    [InlineData("folder")]
    [InlineData("blob")]
    public async Task A_file_whose_writer_fails_midway_is_never_seen_and_a_rewrite_replaces_it_whole(string store)
    {
        var ct = TestContext.Current.CancellationToken;
        var exchange = await OpenAsync(store);
        string chunk = DiLoCoExchange.RankFolder(0, 1) + "chunk-000000.bin";
        await Assert.ThrowsAsync<IOException>(() => exchange.PutAsync(chunk, stream =>
        {
            stream.Write(new byte[1000]);
            throw new IOException("the writer died");
        }, ct));
        Assert.Null(await exchange.GetAsync(chunk, ct));
        Assert.Empty(await exchange.ListAsync(DiLoCoExchange.RoundFolder(0), ct));

        await exchange.PutAsync(chunk, [1, 2, 3], ct);
        await exchange.PutAsync(chunk, [4, 5], ct);
        Assert.Equal([4, 5], await exchange.GetAsync(chunk, ct));
        Assert.Equal([chunk], await exchange.ListAsync(DiLoCoExchange.RoundFolder(0), ct));
    }

    [Theory]
    [InlineData("folder")]
    [InlineData("blob")]
    public async Task Chunks_are_listed_by_round_and_deleting_a_finished_round_leaves_the_others(string store)
    {
        var ct = TestContext.Current.CancellationToken;
        var exchange = await OpenAsync(store);
        byte[][] chunks = [[1], [2, 2], [3, 3, 3]];
        foreach (int round in new[] { 1, 10 })
            foreach (int rank in new[] { 0, 1 })
                Assert.Equal(3, await exchange.PutChunksAsync(DiLoCoExchange.RankFolder(round, rank), chunks, ct));
        await exchange.PutChunksAsync(DiLoCoExchange.InitialFolder(1, 0), chunks[..1], ct);

        Assert.Equal(
            ["round-000001/rank-0/chunk-000000.bin", "round-000001/rank-0/chunk-000001.bin", "round-000001/rank-0/chunk-000002.bin",
             "round-000001/rank-0/initial/chunk-000000.bin"],
            await exchange.ListAsync(DiLoCoExchange.RankFolder(1, 0), ct));
        Assert.Equal(chunks, await exchange.GetChunksAsync(DiLoCoExchange.RankFolder(10, 1), 3, ct).ToListAsync(ct));

        // round-000001/ must not take round-000010 with it, although one name starts with the other's.
        await exchange.DeleteAsync(DiLoCoExchange.RoundFolder(1), ct);
        Assert.Empty(await exchange.ListAsync(DiLoCoExchange.RoundFolder(1), ct));
        Assert.Equal(6, (await exchange.ListAsync(DiLoCoExchange.RoundFolder(10), ct)).Count);
        await exchange.DeleteAsync(DiLoCoExchange.RoundFolder(10), ct);
        Assert.Empty(await exchange.ListAsync("round-", ct));
        // Deleting what is gone is no error: an old activation may clean up after a new one.
        await exchange.DeleteAsync(DiLoCoExchange.RoundFolder(10), ct);
    }

    [Fact]
    public async Task A_folder_exchange_keeps_the_layout_runs_have_always_had_there()
    {
        var ct = TestContext.Current.CancellationToken;
        string folder = Path.Combine(root, "layout");
        var exchange = DiLoCoExchange.InFolder(folder);
        await Outer(3).SaveAsync(exchange, DiLoCoExchange.OuterFolder, ct);
        await exchange.PutChunksAsync(DiLoCoExchange.RankFolder(3, 1), [[9]], ct);

        Assert.Equal("step-00000003", File.ReadAllText(Path.Combine(folder, "outer", "latest")));
        Assert.Equal(["momentum.bin", "outer.json", "weights.bin"],
            Directory.GetFiles(Path.Combine(folder, "outer", "step-00000003")).Select(Path.GetFileName).Order());
        Assert.Equal([9], File.ReadAllBytes(Path.Combine(folder, "round-000003", "rank-1", "chunk-000000.bin")));
        Assert.DoesNotContain(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories), file => file.Contains("partial", StringComparison.Ordinal));
    }

    [Fact]
    public void A_run_checkpointing_to_a_container_exchanges_under_its_prefix_and_a_folder_run_in_its_folder()
    {
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1/checkpoints/runs/r1/diloco",
            DiLoCoExchange.LocationFor("http://127.0.0.1:10000/devstoreaccount1/checkpoints/runs/r1/"));
        Assert.Equal(Path.Combine("/data", "runs", "r1", "diloco"), DiLoCoExchange.LocationFor(Path.Combine("/data", "runs", "r1")));
    }
}
