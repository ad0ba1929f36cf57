using System.Text;
using Platform.Datasets;

namespace Platform.Ingestion.Tests.Shards;

/// <summary>The local dataset store's partial files and the durable renames it and the pipeline's stages publish with.</summary>
public sealed class LocalDatasetFolderTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("local-dataset-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_stale_writer_and_its_successor_write_separate_partials_so_the_stale_one_cannot_spoil_the_published_file()
    {
        var store = new LocalDatasetFolder(root);
        await using var stale = store.OpenPartial("shards/00000.tar");
        await stale.WriteAsync(Encoding.UTF8.GetBytes("stale attempt, half wri"), Ct);

        var fresh = store.OpenPartial("shards/00000.tar");
        await fresh.WriteAsync(Encoding.UTF8.GetBytes("new attempt"), Ct);
        await store.PublishAsync(fresh, "shards/00000.tar", Ct);
        await stale.WriteAsync(Encoding.UTF8.GetBytes("tten after the new one published"), Ct);
        await stale.FlushAsync(Ct);

        Assert.Equal("new attempt", Encoding.UTF8.GetString((await store.ReadAsync("shards/00000.tar", Ct))!));
        Assert.Equal(["shards/00000.tar"], await store.ListAsync("", Ct));
        await store.RemovePartialsAsync(Ct);
        Assert.Equal(["00000.tar"], Directory.EnumerateFileSystemEntries(Path.Combine(root, "shards")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_durable_move_replaces_the_destination_with_the_source()
    {
        string source = Path.Combine(root, ".stats.json.partial"), destination = Path.Combine(root, "stats.json");
        File.WriteAllText(source, "new");
        File.WriteAllText(destination, "old");

        DurableFiles.Move(source, destination, overwrite: true);

        Assert.Equal("new", File.ReadAllText(destination));
        Assert.False(File.Exists(source));
    }

    [Fact]
    public void Syncing_a_folder_that_is_not_there_fails_rather_than_passing_as_durable()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "Windows renames need no folder sync");
        Assert.Throws<IOException>(() => DurableFiles.SyncDirectory(Path.Combine(root, "missing")));
    }
}
