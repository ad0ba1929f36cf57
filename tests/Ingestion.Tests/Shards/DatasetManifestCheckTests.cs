using System.Security.Cryptography;
using Platform.Datasets;

namespace Platform.Ingestion.Tests.Shards;

public sealed class DatasetManifestCheckTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("manifest-check-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private ManifestShard Commit(string id, byte[] contents)
    {
        var path = Path.Combine(root, id + ".tar");
        File.WriteAllBytes(path, contents);
        return new ManifestShard(id, 1, contents.Length, Convert.ToHexStringLower(SHA256.HashData(contents)), path, DateTimeOffset.UnixEpoch);
    }

    private static Task<DatasetCheckResult> CheckAsync(IReadOnlyList<ManifestShard> entries) =>
        DatasetManifestCheck.CheckAsync("d", entries, shard => DatasetShard.AtLocation(shard.Location, null), TestContext.Current.CancellationToken);

    [Fact]
    public async Task A_dataset_whose_tars_match_their_lines_has_no_problem()
    {
        var result = await CheckAsync([Commit("00000", [1, 2, 3]), Commit("00001", [4, 5])]);
        Assert.Equal(2, result.ShardsChecked);
        Assert.Empty(result.Problems);
    }

    [Fact]
    public async Task An_overwritten_tar_a_missing_tar_and_an_unlisted_tar_are_each_reported_and_left_as_they_are()
    {
        var intact = Commit("00000", [1, 2, 3]);
        var overwritten = Commit("00001", [4, 5]);
        File.WriteAllBytes(overwritten.Location, [6, 7]);
        var missing = Commit("00002", [8]);
        File.Delete(missing.Location);
        File.WriteAllBytes(Path.Combine(root, "00003.tar"), [9]);
        // A writer's partial file is not a shard.
        File.WriteAllBytes(Path.Combine(root, ".00004.tar.abc.partial"), [10]);

        var result = await CheckAsync([intact, overwritten, missing]);

        Assert.Equal(
            [(ManifestProblemKind.ChecksumDiffers, "00001"), (ManifestProblemKind.TarMissing, "00002"), (ManifestProblemKind.TarNotInManifest, (string?)null)],
            result.Problems.Select(p => (p.Kind, p.ShardId)).Order());
        Assert.Equal(Path.Combine(root, "00003.tar"), result.Problems.Single(p => p.Kind == ManifestProblemKind.TarNotInManifest).Location);
        Assert.Equal([6, 7], File.ReadAllBytes(overwritten.Location));
        Assert.Equal(2, result.Problems.Count(p => p.IsDamage));
    }
}
