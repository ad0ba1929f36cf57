using Azure.Storage.Blobs;

namespace Platform.Datasets;

/// <summary>
/// Where a run writes: a local folder, or a blob container given as <c>http(s)://account-endpoint/container[/prefix]</c>.
/// </summary>
public static class DatasetTarget
{
    public static bool IsBlobUrl(string target) =>
        target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Opens the store. A blob URL needs a storage connection string for the account it names (the container
    /// is created when missing), or a SAS token in its query for an existing container; without either it is
    /// refused rather than tried anonymously. Checked before any work starts, so a wrong target fails fast.
    /// </summary>
    public static Task<IDatasetStore> OpenAsync(string target, string? connectionString, CancellationToken cancellationToken) =>
        OpenWithClientAsync(target, IsBlobUrl(target) && !string.IsNullOrWhiteSpace(connectionString) ? new BlobServiceClient(connectionString) : null, cancellationToken);

    /// <summary>As <see cref="OpenAsync(string, string?, CancellationToken)"/>, with a client of the storage account (a silo's) instead of its connection string.</summary>
    public static async Task<IDatasetStore> OpenWithClientAsync(string target, BlobServiceClient? account, CancellationToken cancellationToken)
    {
        if (!IsBlobUrl(target)) return new LocalDatasetFolder(target);
        var url = new Uri(target);
        if (account is not null)
        {
            var service = account;
            var (container, prefix) = SplitContainerAndPrefix(url, service.Uri);
            var client = service.GetBlobContainerClient(container);
            await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            return new AzureBlobDatasetStore(client, prefix);
        }
        if (url.Query.Contains("sig=", StringComparison.Ordinal))
        {
            // The SDK's parser knows both endpoint styles (an emulator's path-style URL carries the account first).
            var parts = new BlobUriBuilder(url);
            var prefix = parts.BlobName.Trim('/');
            parts.BlobName = "";
            var client = new BlobContainerClient(parts.ToUri());
            if (string.IsNullOrEmpty(parts.BlobContainerName)) throw new ArgumentException($"'{url.GetLeftPart(UriPartial.Path)}' names no container.");
            // A container SAS cannot read the container's properties, so existence (and the List permission a rerun
            // needs) is checked by listing one name under the prefix.
            try
            {
                await foreach (var _ in client.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, cancellationToken).AsPages(pageSizeHint: 1)) break;
            }
            catch (Azure.RequestFailedException error) when (error.ErrorCode == "ContainerNotFound")
            {
                throw new ArgumentException($"container '{parts.BlobContainerName}' does not exist at {url.GetLeftPart(UriPartial.Authority)}.");
            }
            catch (Azure.RequestFailedException error) when (error.Status == 403)
            {
                throw new ArgumentException($"the SAS token in the URL does not allow listing container '{parts.BlobContainerName}' (a dataset needs read, list, write and delete): {error.ErrorCode}");
            }
            return new AzureBlobDatasetStore(client, prefix);
        }
        throw new ArgumentException($"'{SecretRedaction.RedactUrl(target)}' is a blob URL: give --storage-connection (or PLATFORM_Storage__ConnectionString), or a SAS token in the URL.");
    }

    /// <summary>
    /// Splits the path of <paramref name="url"/> below the account's endpoint into container and prefix.
    /// Path-style endpoints (the local emulator's <c>http://127.0.0.1:10000/devstoreaccount1</c>) carry the
    /// account as the first path segment, which is not part of the container name.
    /// </summary>
    public static (string Container, string Prefix) SplitContainerAndPrefix(Uri url, Uri accountEndpoint)
    {
        if (!string.Equals(url.Authority, accountEndpoint.Authority, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"'{SecretRedaction.RedactUrl(url.ToString())}' is not in the storage account at {accountEndpoint}.");
        var path = Uri.UnescapeDataString(url.AbsolutePath).Trim('/');
        var account = accountEndpoint.AbsolutePath.Trim('/');
        if (account.Length > 0)
        {
            if (!(path == account || path.StartsWith(account + "/", StringComparison.Ordinal)))
                throw new ArgumentException($"'{SecretRedaction.RedactUrl(url.ToString())}' is not in the storage account at {accountEndpoint}.");
            path = path[account.Length..].TrimStart('/');
        }
        var slash = path.IndexOf('/');
        var container = slash < 0 ? path : path[..slash];
        if (container.Length == 0) throw new ArgumentException($"'{SecretRedaction.RedactUrl(url.ToString())}' names no container.");
        return (container, slash < 0 ? "" : path[(slash + 1)..]);
    }
}
