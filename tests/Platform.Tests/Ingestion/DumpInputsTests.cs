using Azure.Storage.Blobs;
using Platform.Ingestion.Runs;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Ingestion;

/// <summary>Inputs named by blob URL on Azurite: expanded from containers and prefixes, and read like the same local files.</summary>
public sealed class DumpInputsTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("dump-inputs-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private BlobServiceClient Account => azurite.Connection.CreateBlobClient();

    private async Task<(BlobContainerClient Container, string Url)> NewContainerAsync(params string[] names)
    {
        var container = Account.GetBlobContainerClient("in-" + Guid.NewGuid().ToString("N")[..12]);
        await container.CreateAsync(cancellationToken: Ct);
        foreach (var name in names) await container.GetBlobClient(name).UploadAsync(BinaryData.FromString($"bytes of {name}"), Ct);
        return (container, $"{azurite.Connection.BlobEndpoint.ToString().TrimEnd('/')}/{container.Name}");
    }

    [Fact]
    public async Task A_container_or_prefix_becomes_its_dump_blobs_in_name_order_and_a_blob_stays_itself()
    {
        var (_, url) = await NewContainerAsync("b/2.warc.gz", "b/10.wat.gz", "b/notes.txt", "a.tsv", "b/deeper/x.parquet", "bb/other.warc");
        var inputs = new DumpInputs(Account);
        var local = Path.Combine(root, "local.warc");

        Assert.Equal([$"{url}/a.tsv", $"{url}/b/10.wat.gz", $"{url}/b/2.warc.gz", $"{url}/b/deeper/x.parquet", $"{url}/bb/other.warc"],
            await inputs.ExpandAsync([url], Ct));
        // A prefix is a folder: "b" does not take "bb/"; local paths pass through in their place.
        Assert.Equal([local, $"{url}/b/10.wat.gz", $"{url}/b/2.warc.gz", $"{url}/b/deeper/x.parquet", $"{url}/bb/other.warc"],
            await inputs.ExpandAsync([local, $"{url}/b/", $"{url}/bb/other.warc"], Ct));
        await Assert.ThrowsAsync<FileNotFoundException>(() => inputs.ExpandAsync([$"{url}/nothing-here"], Ct));
        // Without the account, and with no SAS token, a blob URL is refused rather than tried anonymously.
        await Assert.ThrowsAsync<ArgumentException>(() => DumpInputs.LocalOnly.ExpandAsync([url], Ct));
    }

    [Fact]
    public async Task A_blob_reads_from_any_offset_as_the_same_local_file_does()
    {
        var bytes = new byte[300_000];
        new Random(4).NextBytes(bytes);
        var local = Path.Combine(root, "dump.warc.gz");
        await File.WriteAllBytesAsync(local, bytes, Ct);
        var (container, url) = await NewContainerAsync();
        await container.GetBlobClient("dump.warc.gz").UploadAsync(new BinaryData(bytes), Ct);
        var inputs = new DumpInputs(Account);

        foreach (var offset in new long[] { 0, 1, 123_457, bytes.Length - 1 })
        {
            await using var blob = await inputs.OpenAsync($"{url}/dump.warc.gz", offset, Ct);
            await using var file = await inputs.OpenAsync(local, offset, Ct);
            Assert.Equal(bytes.Length, blob.Length);
            Assert.Equal(bytes.Length, file.Length);
            Assert.Equal(await ReadToEndAsync(file.Stream), await ReadToEndAsync(blob.Stream));
        }
        await Assert.ThrowsAsync<FileNotFoundException>(() => inputs.OpenAsync($"{url}/missing.warc.gz", 0, Ct));
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }
}
