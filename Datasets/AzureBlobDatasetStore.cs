using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace Platform.Datasets;

/// <summary>
/// A dataset in a blob container, optionally under a prefix. A partial file is spooled to a local temporary
/// file and uploaded on publish as one block blob, whose content becomes visible atomically when the upload
/// commits, so a reader never sees a truncated shard.
/// </summary>
public sealed class AzureBlobDatasetStore(BlobContainerClient container, string prefix = "") : IDatasetStore
{
    private readonly string _prefix = prefix.Length == 0 || prefix.EndsWith('/') ? prefix : prefix + "/";

    public string Location => $"{container.Uri}/{_prefix}";

    public async Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, _prefix + prefix, cancellationToken))
            names.Add(blob.Name[_prefix.Length..]);
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public async Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var content = await container.GetBlobClient(_prefix + name).DownloadContentAsync(cancellationToken);
            return content.Value.Content.ToArray();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public Stream OpenRead(string name)
    {
        try
        {
            // Reads ahead in blocks as the stream is consumed; pinned to the version opened, so a blob
            // replaced meanwhile fails the read instead of mixing two versions.
            return container.GetBlobClient(_prefix + name).OpenRead(new BlobOpenReadOptions(allowModifications: false));
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new FileNotFoundException($"{Location}{name} does not exist.", name, e);
        }
    }

    public Stream OpenPartial(string name) => new FileStream(
        Path.Combine(Path.GetTempPath(), $"platform-shard-{Guid.NewGuid():N}.partial"), FileMode.CreateNew, FileAccess.ReadWrite,
        FileShare.None, bufferSize: 1 << 16, FileOptions.Asynchronous | FileOptions.DeleteOnClose);

    public async Task PublishAsync(Stream partial, string name, CancellationToken cancellationToken)
    {
        await using (partial)
        {
            await partial.FlushAsync(cancellationToken);
            partial.Position = 0;
            await container.GetBlobClient(_prefix + name).UploadAsync(partial, overwrite: true, cancellationToken);
        }
    }

    public async Task DeleteAsync(string prefix, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, _prefix + prefix, cancellationToken))
                await container.GetBlobClient(blob.Name).DeleteIfExistsAsync(cancellationToken: cancellationToken);
        }
        catch (RequestFailedException e) when (e.ErrorCode == "ContainerNotFound")
        {
        }
    }

    /// <summary>Nothing to remove: uncommitted blocks are invisible and the service discards them.</summary>
    public Task RemovePartialsAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
