using Azure.Storage.Blobs;
using Platform.Datasets;
using Platform.Ingestion.Runs;

namespace Platform.Grains.Ingestion;

/// <summary>
/// The silo's storage account as ingestion sees it (the platform's <c>Storage:ConnectionString</c>): a job's dataset
/// location and its inputs given as blob URLs are opened with it. Without an account (a silo with no blob storage) only local
/// folders and blob URLs carrying a SAS token can be opened.
/// </summary>
public sealed class IngestStorage(BlobServiceClient? account)
{
    /// <summary>Opens and expands a job's inputs: local files, or blobs in this account (or with a SAS token).</summary>
    public DumpInputs Inputs { get; } = new(account);

    /// <summary>A dataset folder, or a blob container as <c>http(s)://account-endpoint/container[/prefix]</c> (see <see cref="DatasetTarget"/>).</summary>
    public Task<IDatasetStore> OpenDatasetAsync(string location, CancellationToken cancellationToken) =>
        DatasetTarget.OpenWithClientAsync(location, account, cancellationToken);
}
