using Platform.Datasets;
using Platform.Grains.Datasets;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Datasets;

/// <summary>The library's manifest reader against what <see cref="IDatasetGrain"/> writes, and the shard locations it resolves.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class DatasetManifestTests(SharedClusterFixture shared, AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("dataset-manifest-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private DatasetManifestStore Manifests() => new(azurite.Connection.CreateBlobClient(), PlatformTestCluster.ManifestContainer);

    private static async Task WriteShardAsync(IDatasetStore store, int shard, int samples)
    {
        await store.WriteFileAsync(DatasetLayout.TarName(shard), async stream =>
        {
            await using var writer = new WebDatasetShardWriter(stream);
            for (var i = 0; i < samples; i++)
            {
                var key = $"{DatasetLayout.ShardName(shard)}{i:D4}";
                await writer.WriteSampleAsync(new SampleRecord { Key = key, Caption = $"caption {key}", Status = SampleStatus.Success }, [0xFF, 0xD8, (byte)i], default);
            }
        }, TestContext.Current.CancellationToken);
    }

    private static string[] Keys(DatasetShard shard) => [.. WebDatasetShardReader.Read(shard).Select(sample => sample.Key)];

    [Fact]
    public async Task Shards_committed_through_the_dataset_grain_are_read_in_commit_order_once_each()
    {
        var name = $"manifest-{Guid.NewGuid():N}";
        var grain = shared.Grains.GetGrain<IDatasetGrain>(name);
        ShardEntry Shard(int n) => new($"{n:D5}", 10 + n, 1000 + n, $"sha-{n}", $"/data/{name}/{n:D5}.tar", DateTimeOffset.UnixEpoch.AddMinutes(n));
        await grain.AddShard(Shard(2));
        await grain.AddShards([Shard(0), Shard(2), Shard(1)]);

        var committed = (await Manifests().ReadAsync(name, TestContext.Current.CancellationToken)).Entries;

        Assert.Equal(["00002", "00000", "00001"], committed.Select(s => s.ShardId));
        Assert.Equal(new ManifestShard("00000", 10, 1000, "sha-0", $"/data/{name}/00000.tar", DateTimeOffset.UnixEpoch), committed[1]);
        Assert.Empty((await Manifests().ReadAsync($"never-{Guid.NewGuid():N}", TestContext.Current.CancellationToken)).Entries);
    }

    [Fact]
    public async Task A_manifest_nested_under_a_dataset_prefix_is_not_part_of_that_dataset()
    {
        var ct = TestContext.Current.CancellationToken;
        var name = $"outer-{Guid.NewGuid():N}";
        await shared.Grains.GetGrain<IDatasetGrain>(name).AddShard(new ShardEntry("00000", 1, 10, "sha-outer", $"/data/{name}/00000.tar", DateTimeOffset.UnixEpoch));
        // What a dataset named "{name}/manifest" wrote before such names were refused.
        var container = azurite.Connection.CreateBlobClient().GetBlobContainerClient(PlatformTestCluster.ManifestContainer);
        await container.GetBlobClient(DatasetManifestStore.SegmentName($"{name}/manifest", 0)).UploadAsync(
            BinaryData.FromString(System.Text.Json.JsonSerializer.Serialize(new ManifestShard("99999", 1, 10, "sha-nested", "/elsewhere/99999.tar", DateTimeOffset.UnixEpoch), System.Text.Json.JsonSerializerOptions.Web) + "\n"), ct);

        var committed = (await Manifests().ReadAsync(name, ct)).Entries;

        Assert.Equal(["00000"], committed.Select(s => s.ShardId));
    }

    [Theory]
    [InlineData("a/manifest")]
    [InlineData("a/b")]
    [InlineData("/a")]
    [InlineData(".hidden")]
    [InlineData("a..b")]
    [InlineData("")]
    public async Task Names_that_could_nest_or_escape_are_refused_by_the_dataset_grain(string name)
    {
        Assert.False(DatasetNames.IsValid(name));
        if (name.Length > 0)
            await Assert.ThrowsAnyAsync<ArgumentException>(() => shared.Grains.GetGrain<IDatasetGrain>(name).AddShard(
                new ShardEntry("00000", 1, 10, "sha", "/data/x/00000.tar", DateTimeOffset.UnixEpoch)));
    }

    [Fact]
    public void Valid_names_never_hold_a_separator_so_none_nests_in_another()
    {
        var random = new Random(16);
        const string alphabet = "ab.-_/";
        for (var i = 0; i < 5000; i++)
        {
            var name = new string(Enumerable.Range(0, random.Next(1, 8)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            if (DatasetNames.IsValid(name))
                Assert.DoesNotContain('/', name);
        }
    }

    [Fact]
    public async Task A_folder_location_is_the_tar_file_and_a_blob_location_streams_the_blob_of_the_account()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = new LocalDatasetFolder(Path.Combine(root, "dataset"));
        await WriteShardAsync(folder, 3, samples: 4);
        var blobs = azurite.Connection.CreateBlobClient();
        var container = blobs.GetBlobContainerClient($"shards-{Guid.NewGuid():N}");
        await container.CreateAsync(cancellationToken: ct);
        var blobStore = new AzureBlobDatasetStore(container, "datasets/web");
        await WriteShardAsync(blobStore, 7, samples: 3);
        var manifests = Manifests();

        var local = manifests.Resolve(new ManifestShard("00003", 4, 1, "c", Path.Combine(folder.Root, "00003.tar"), DateTimeOffset.UnixEpoch));
        var remote = manifests.Resolve(new ManifestShard("00007", 3, 1, "c", blobStore.Location + "00007.tar", DateTimeOffset.UnixEpoch));

        Assert.Equal(Path.Combine(folder.Root, "00003.tar"), local.LocalPath);
        Assert.Equal(["000030000", "000030001", "000030002", "000030003"], Keys(local));
        Assert.Null(remote.LocalPath);
        Assert.Equal("00007.tar", remote.Name);
        Assert.Equal(["000070000", "000070001", "000070002"], Keys(remote));
    }

    [Fact]
    public void Blob_locations_that_cannot_be_read_are_refused_naming_the_location()
    {
        var blobs = azurite.Connection.CreateBlobClient();
        var outside = Assert.Throws<ArgumentException>(() => DatasetShard.AtLocation("https://other.example/c/00000.tar", blobs));
        Assert.Contains("not in the storage account", outside.Message);
        var noAccount = Assert.Throws<ArgumentException>(() => DatasetShard.AtLocation($"{blobs.Uri}/c/00000.tar", account: null));
        Assert.Contains("00000.tar is a blob", noAccount.Message);

        var missing = DatasetShard.AtLocation($"{blobs.Uri.ToString().TrimEnd('/')}/no-such-container/00000.tar", blobs);
        var error = Assert.Throws<FileNotFoundException>(() => missing.OpenRead());
        Assert.Contains("no-such-container/00000.tar does not exist", error.Message);
    }
}
