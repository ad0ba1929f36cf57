using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Platform.Datasets;

namespace Platform.Model.Training;

/// <summary>
/// A run's checkpoints in a blob container (<c>http(s)://account-endpoint/container[/prefix]</c>), mirrored from a local
/// run folder that <see cref="Checkpoint"/> writes: each step folder's files go to <c>prefix/step-XXXXXXXX/...</c>, and
/// only after every one of them is uploaded is <c>prefix/latest</c> written, so "latest" never names a partial
/// checkpoint, as in a folder.
/// </summary>
public sealed class BlobCheckpointStore
{
    private readonly BlobContainerClient container;
    private readonly string prefix;

    public BlobCheckpointStore(BlobContainerClient container, string prefix)
    {
        this.container = container;
        prefix = prefix.Trim('/');
        this.prefix = prefix.Length == 0 ? "" : prefix + "/";
    }

    /// <summary>
    /// The store a checkpoint location names, in <paramref name="account"/>'s storage account (the container is created
    /// on first upload); a URL outside that account is refused with the reason.
    /// </summary>
    public static BlobCheckpointStore Open(string location, BlobServiceClient account)
    {
        var (containerName, prefix) = DatasetTarget.SplitContainerAndPrefix(new Uri(location), account.Uri);
        return new BlobCheckpointStore(account.GetBlobContainerClient(containerName), prefix);
    }

    /// <summary>Whether a checkpoint location or a checkpoint's folder is a blob URL rather than a path.</summary>
    public static bool IsBlobLocation(string location) => DatasetTarget.IsBlobUrl(location);

    /// <summary>The run's location as a URL without a trailing slash.</summary>
    public string Location => $"{container.Uri}/{prefix}".TrimEnd('/');

    /// <summary>The URL of a step's checkpoint folder: what a run records as the checkpoint and evaluations key by.</summary>
    public string FolderUrl(int step) => $"{Location}/{Checkpoint.FolderName(step)}";

    /// <summary>The step a checkpoint folder's URL (as <see cref="FolderUrl"/> gives) belongs to.</summary>
    public static int StepOf(string folderUrl)
    {
        var name = folderUrl.TrimEnd('/');
        name = name[(name.LastIndexOf('/') + 1)..];
        return name.StartsWith("step-", StringComparison.Ordinal) && int.TryParse(name["step-".Length..], out int step)
            ? step : throw new ArgumentException($"'{folderUrl}' names no checkpoint folder (step-XXXXXXXX).");
    }

    /// <summary>
    /// Uploads the local checkpoint folder of <paramref name="step"/> (already complete, as <see cref="Checkpoint.Save"/>
    /// publishes it) and then points <c>latest</c> at it; returns the folder's URL.
    /// </summary>
    public async Task<string> UploadAsync(string localFolder, int step, CancellationToken cancellationToken)
    {
        await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        string folder = prefix + Checkpoint.FolderName(step) + "/";
        foreach (var file in Directory.EnumerateFiles(localFolder, "*", SearchOption.AllDirectories))
        {
            string name = Path.GetRelativePath(localFolder, file).Replace(Path.DirectorySeparatorChar, '/');
            await container.GetBlobClient(folder + name).UploadAsync(file, overwrite: true, cancellationToken);
        }
        await PointLatestAtAsync(step, cancellationToken);
        return FolderUrl(step);
    }

    /// <summary>The step <c>latest</c> names, or null when the run has no checkpoint here yet.</summary>
    public async Task<int?> LatestStepAsync(CancellationToken cancellationToken)
    {
        try
        {
            var content = await container.GetBlobClient(prefix + Checkpoint.LatestFile).DownloadContentAsync(cancellationToken);
            return StepOf(content.Value.Content.ToString().Trim());
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The steps of every checkpoint folder under the location, complete or not, ascending.</summary>
    public async Task<IReadOnlyList<int>> StepsAsync(CancellationToken cancellationToken)
    {
        var steps = new SortedSet<int>();
        try
        {
            await foreach (var item in container.GetBlobsByHierarchyAsync(BlobTraits.None, BlobStates.None, "/", prefix + "step-", cancellationToken))
                if (item.IsPrefix && int.TryParse(item.Prefix[(prefix.Length + "step-".Length)..].TrimEnd('/'), out int step))
                    steps.Add(step);
        }
        catch (RequestFailedException e) when (e.ErrorCode == "ContainerNotFound")
        {
        }
        return [.. steps];
    }

    /// <summary>
    /// Replaces <paramref name="localRunDirectory"/> with a run folder holding only the checkpoint of <paramref name="step"/>
    /// (none when 0), downloaded into a staging folder and renamed into place, with its local <c>latest</c>: what a new
    /// attempt on any silo resumes from.
    /// </summary>
    public async Task DownloadAsync(int step, string localRunDirectory, CancellationToken cancellationToken)
    {
        if (Directory.Exists(localRunDirectory)) Directory.Delete(localRunDirectory, recursive: true);
        Directory.CreateDirectory(localRunDirectory);
        if (step == 0) return;
        string folder = prefix + Checkpoint.FolderName(step) + "/";
        string staging = Path.Combine(localRunDirectory, $".{Checkpoint.FolderName(step)}.download");
        int files = 0;
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, folder, cancellationToken))
        {
            string local = Path.Combine(staging, blob.Name[folder.Length..].Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            await container.GetBlobClient(blob.Name).DownloadToAsync(local, cancellationToken);
            files++;
        }
        if (files == 0 || !File.Exists(Path.Combine(staging, Checkpoint.StateFile)))
            throw new InvalidDataException($"{FolderUrl(step)} holds no complete checkpoint ({Checkpoint.StateFile} missing).");
        Directory.Move(staging, Path.Combine(localRunDirectory, Checkpoint.FolderName(step)));
        Checkpoint.DiscardAfter(localRunDirectory, step);
    }

    /// <summary>
    /// Downloads the checkpoint a folder URL (as <see cref="FolderUrl"/> gives) names into a run folder of its own under
    /// <paramref name="localRunDirectory"/> and returns the local step folder: what an evaluator, which reads folders, scores.
    /// </summary>
    public static async Task<string> DownloadFolderAsync(string folderUrl, BlobServiceClient account, string localRunDirectory, CancellationToken cancellationToken)
    {
        folderUrl = folderUrl.TrimEnd('/');
        int step = StepOf(folderUrl);
        await Open(folderUrl[..folderUrl.LastIndexOf('/')], account).DownloadAsync(step, localRunDirectory, cancellationToken);
        return Path.Combine(localRunDirectory, Checkpoint.FolderName(step));
    }

    /// <summary>
    /// As <see cref="Checkpoint.DiscardAfter"/> for a folder: <c>latest</c> names <paramref name="step"/> again (is removed
    /// when 0) before every newer checkpoint's blobs are deleted.
    /// </summary>
    public async Task DiscardAfterAsync(int step, CancellationToken cancellationToken)
    {
        if (step > 0) await PointLatestAtAsync(step, cancellationToken);
        else
        {
            try { await container.GetBlobClient(prefix + Checkpoint.LatestFile).DeleteIfExistsAsync(cancellationToken: cancellationToken); }
            catch (RequestFailedException e) when (e.ErrorCode == "ContainerNotFound") { }
        }
        foreach (int saved in await StepsAsync(cancellationToken))
            if (saved > step) await DeleteAsync(saved, cancellationToken);
    }

    /// <summary>Deletes every blob of a step's checkpoint folder (retention, or a discarded newer one).</summary>
    public async Task DeleteAsync(int step, CancellationToken cancellationToken)
    {
        string folder = prefix + Checkpoint.FolderName(step) + "/";
        try
        {
            await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, folder, cancellationToken))
                await container.GetBlobClient(blob.Name).DeleteIfExistsAsync(cancellationToken: cancellationToken);
        }
        catch (RequestFailedException e) when (e.ErrorCode == "ContainerNotFound")
        {
        }
    }

    private async Task PointLatestAtAsync(int step, CancellationToken cancellationToken) =>
        // One block blob upload commits whole, so a reader sees the old name or the new one.
        await container.GetBlobClient(prefix + Checkpoint.LatestFile).UploadAsync(BinaryData.FromString(Checkpoint.FolderName(step)), overwrite: true, cancellationToken);
}
