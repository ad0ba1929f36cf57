using Azure.Storage.Blobs;

namespace Platform.Datasets;

/// <summary>
/// One WebDataset shard (tar) to read: a file on this machine, or a file of a dataset store such as a blob
/// container, streamed from where it lies rather than copied first.
/// </summary>
public sealed class DatasetShard
{
    private readonly Func<Stream> _open;

    private DatasetShard(string location, string name, string? localPath, Func<Stream> open)
    {
        Location = location;
        Name = name;
        LocalPath = localPath;
        _open = open;
    }

    /// <summary>Where the shard is, as it was given: a file path or a blob URL.</summary>
    public string Location { get; }

    /// <summary>The shard's file name, which problems found in its contents are reported under.</summary>
    public string Name { get; }

    /// <summary>The path of a shard that is a file on this machine; null for one in a remote store.</summary>
    public string? LocalPath { get; }

    public Stream OpenRead() => _open();

    public static DatasetShard File(string path) =>
        new(path, Path.GetFileName(path), path, () => System.IO.File.OpenRead(path));

    /// <summary>
    /// The shard a manifest line points at (<see cref="ManifestShard.Location"/>): a path in a dataset folder, or the URL of
    /// a blob in the storage account of <paramref name="account"/>, streamed through an <see cref="AzureBlobDatasetStore"/>.
    /// </summary>
    public static DatasetShard AtLocation(string location, BlobServiceClient? account)
    {
        if (!DatasetTarget.IsBlobUrl(location)) return File(location);
        if (account is null) throw new ArgumentException($"shard {location} is a blob, and no storage account is configured to read it.");
        var (container, blobName) = DatasetTarget.SplitContainerAndPrefix(new Uri(location), account.Uri);
        var store = new AzureBlobDatasetStore(account.GetBlobContainerClient(container));
        return new DatasetShard(location, blobName[(blobName.LastIndexOf('/') + 1)..], null, () => store.OpenRead(blobName));
    }
}
