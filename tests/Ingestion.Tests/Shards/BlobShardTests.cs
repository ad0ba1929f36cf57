using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;
using Platform.Datasets;
using Xunit;

namespace Platform.Ingestion.Tests.Shards;

/// <summary>Azurite's blob service on 127.0.0.1 with a free port, in memory, for the lifetime of the test class.</summary>
public sealed class AzuriteBlob : IAsyncLifetime
{
    private Process? _process;

    public string? ConnectionString { get; private set; }

    public string? MissingReason { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var executable = FindAzurite();
        if (executable is null)
        {
            MissingReason = "node_modules/.bin/azurite-blob not found (run npm ci in the repository)";
            return;
        }
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--blobHost", "127.0.0.1", "--blobPort", port.ToString(), "--inMemoryPersistence",
                     "--skipApiVersionCheck", "--disableProductStyleUrl", "--silent" })
            info.ArgumentList.Add(arg);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                ConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
                    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
                    $"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;";
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(200);
            }
        }
        MissingReason = "Azurite did not start listening";
    }

    private static string? FindAzurite()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules", ".bin", "azurite-blob");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

public sealed class BlobShardTests(AzuriteBlob azurite) : IClassFixture<AzuriteBlob>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<BlobContainerClient> NewContainer()
    {
        if (azurite.ConnectionString is null) Assert.Skip(azurite.MissingReason ?? "Azurite unavailable");
        var container = new BlobContainerClient(azurite.ConnectionString, $"shards-{Guid.NewGuid():N}");
        await container.CreateAsync(cancellationToken: Ct);
        return container;
    }

    private static async Task<Dictionary<string, byte[]>> Snapshot(IDatasetStore store)
    {
        var files = new Dictionary<string, byte[]>();
        foreach (var name in await store.ListAsync("", Ct)) files[name] = (await store.ReadAsync(name, Ct))!;
        return files;
    }

    [Fact]
    public async Task A_container_url_with_a_sas_token_opens_that_container_under_its_prefix_on_a_path_style_endpoint()
    {
        var container = await NewContainer();
        var sas = container.GenerateSasUri(Azure.Storage.Sas.BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1));
        // Azurite's endpoint is path-style: http://127.0.0.1:PORT/devstoreaccount1/CONTAINER/...
        var target = new UriBuilder(sas) { Path = sas.AbsolutePath.TrimEnd('/') + "/run-1" }.Uri.ToString();

        var store = await Platform.Datasets.DatasetTarget.OpenAsync(target, connectionString: null, Ct);
        var partial = store.OpenPartial("note.txt");
        await partial.WriteAsync("written through the SAS"u8.ToArray(), Ct);
        await store.PublishAsync(partial, "note.txt", Ct);

        var blob = container.GetBlobClient("run-1/note.txt");
        Assert.True(await blob.ExistsAsync(Ct), $"{store.Location} did not write run-1/note.txt into {container.Uri}");
        Assert.Equal("written through the SAS", (await blob.DownloadContentAsync(Ct)).Value.Content.ToString());
        Assert.Equal(["note.txt"], await store.ListAsync("", Ct));
    }

    [Fact]
    public async Task Blob_output_after_a_crash_and_rerun_matches_an_uninterrupted_local_run_byte_for_byte()
    {
        var local = Directory.CreateTempSubdirectory("shards-local").FullName;
        var work = Directory.CreateTempSubdirectory("shards-work").FullName;
        try
        {
            await ShardWriterTests.Writer(new LocalDatasetFolder(local), work).RunAsync(ShardWriterTests.Candidates(), "job", Ct);
            var store = new AzureBlobDatasetStore(await NewContainer(), "datasets/web");

            using var crash = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ShardWriterTests
                .Writer(store, work, new ShardWriterTests.CrashingSource(crashAtCandidate: 8, crash)).RunAsync(ShardWriterTests.Candidates(), "job", crash.Token));
            var afterCrash = await store.ListAsync("", Ct);
            Assert.Contains("00000_stats.json", afterCrash);
            Assert.DoesNotContain("00001.tar", afterCrash);

            var summary = await ShardWriterTests.Writer(store, work).RunAsync(ShardWriterTests.Candidates(), "job", Ct);

            Assert.Equal((2, 1), (summary.ShardsWritten, summary.ShardsAlreadyCommitted));
            ShardWriterTests.AssertSameFiles(ShardWriterTests.Snapshot(local), await Snapshot(store));
        }
        finally
        {
            Directory.Delete(local, recursive: true);
            Directory.Delete(work, recursive: true);
        }
    }
}
