using Azure.Storage.Blobs.Models;
using Platform.Model.Training;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary><see cref="BlobCheckpointStore"/> against Azurite: a local run folder mirrored into a blob container and back.</summary>
public sealed class BlobCheckpointStoreTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("blob-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Location(string container) =>
        $"{azurite.Connection.CreateBlobClient().Uri.ToString().TrimEnd('/')}/{container}/runs/run-1";

    /// <summary>A checkpoint folder as <see cref="Checkpoint.Save"/> leaves it, with contents that tell the steps apart.</summary>
    private string SaveLocally(string runDirectory, int step) =>
        Checkpoint.Save(runDirectory, step, folder =>
        {
            File.WriteAllBytes(Path.Combine(folder, Checkpoint.ModelFile), [.. Enumerable.Range(0, 100).Select(i => (byte)(i * step))]);
            File.WriteAllText(Path.Combine(folder, Checkpoint.VocabularyFile), $"{{\"step\": {step}}}");
            File.WriteAllText(Path.Combine(folder, Checkpoint.StateFile), $"state of {step}");
        });

    private async Task<List<string>> BlobNamesAsync(string container) =>
        await azurite.Connection.CreateBlobClient().GetBlobContainerClient(container)
            .GetBlobsAsync(BlobTraits.None, BlobStates.None, "runs/run-1/", TestContext.Current.CancellationToken)
            .Select(b => b.Name).ToListAsync(TestContext.Current.CancellationToken);

    [Fact]
    public async Task Uploaded_checkpoints_are_under_their_step_folders_and_latest_names_the_newest()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = $"ckpt-{Guid.NewGuid():N}";
        var store = BlobCheckpointStore.Open(Location(container), azurite.Connection.CreateBlobClient());
        var local = Path.Combine(root, "work");

        Assert.Null(await store.LatestStepAsync(ct));
        Assert.Equal(store.FolderUrl(2), await store.UploadAsync(SaveLocally(local, 2), 2, ct));
        await store.UploadAsync(SaveLocally(local, 4), 4, ct);

        Assert.Equal(4, await store.LatestStepAsync(ct));
        Assert.Equal([2, 4], await store.StepsAsync(ct));
        var names = await BlobNamesAsync(container);
        foreach (int step in new[] { 2, 4 })
            foreach (var file in new[] { Checkpoint.ModelFile, Checkpoint.VocabularyFile, Checkpoint.StateFile })
                Assert.Contains($"runs/run-1/{Checkpoint.FolderName(step)}/{file}", names);
        Assert.Contains("runs/run-1/latest", names);
        Assert.Equal($"{Location(container)}/step-00000004", store.FolderUrl(4));
        Assert.Equal(4, BlobCheckpointStore.StepOf(store.FolderUrl(4)));
    }

    [Fact]
    public async Task A_download_on_another_machine_resumes_from_the_accepted_step_with_its_bytes_and_newer_ones_are_discarded()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = $"ckpt-{Guid.NewGuid():N}";
        var store = BlobCheckpointStore.Open(Location(container), azurite.Connection.CreateBlobClient());
        var first = Path.Combine(root, "silo-a");
        var saved2 = SaveLocally(first, 2);
        await store.UploadAsync(saved2, 2, ct);
        await store.UploadAsync(SaveLocally(first, 4), 4, ct);

        await store.DiscardAfterAsync(2, ct);
        var second = Path.Combine(root, "silo-b");
        Directory.CreateDirectory(Path.Combine(second, "step-00000009"));
        await store.DownloadAsync(2, second, ct);

        Assert.Equal(2, await store.LatestStepAsync(ct));
        Assert.Equal([2], await store.StepsAsync(ct));
        Assert.Equal(Path.Combine(second, "step-00000002"), Checkpoint.Latest(second));
        Assert.Equal(["step-00000002"], Directory.GetDirectories(second).Select(Path.GetFileName));
        foreach (var file in new[] { Checkpoint.ModelFile, Checkpoint.VocabularyFile, Checkpoint.StateFile })
            Assert.Equal(File.ReadAllBytes(Path.Combine(saved2, file)), File.ReadAllBytes(Path.Combine(second, "step-00000002", file)));
    }

    [Fact]
    public async Task Discarding_after_zero_leaves_no_latest_and_a_download_of_zero_an_empty_run_folder()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = $"ckpt-{Guid.NewGuid():N}";
        var store = BlobCheckpointStore.Open(Location(container), azurite.Connection.CreateBlobClient());
        await store.UploadAsync(SaveLocally(Path.Combine(root, "a"), 3), 3, ct);

        await store.DiscardAfterAsync(0, ct);
        var local = Path.Combine(root, "b");
        await store.DownloadAsync(0, local, ct);

        Assert.Null(await store.LatestStepAsync(ct));
        Assert.Empty(await BlobNamesAsync(container));
        Assert.Null(Checkpoint.Latest(local));
    }

    [Fact]
    public async Task Deleting_a_step_removes_its_blobs_only()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = $"ckpt-{Guid.NewGuid():N}";
        var store = BlobCheckpointStore.Open(Location(container), azurite.Connection.CreateBlobClient());
        var local = Path.Combine(root, "a");
        await store.UploadAsync(SaveLocally(local, 1), 1, ct);
        await store.UploadAsync(SaveLocally(local, 2), 2, ct);

        await store.DeleteAsync(1, ct);

        Assert.Equal([2], await store.StepsAsync(ct));
        Assert.DoesNotContain(await BlobNamesAsync(container), name => name.Contains("step-00000001", StringComparison.Ordinal));
    }

    [Fact]
    public void A_location_outside_the_platform_storage_account_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            BlobCheckpointStore.Open("https://elsewhere.blob.core.windows.net/checkpoints/run-1", azurite.Connection.CreateBlobClient()));
        Assert.Contains("not in the storage account", error.Message);
    }
}
