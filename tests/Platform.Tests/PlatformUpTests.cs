using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Platform.Grains.Datasets;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>`platform up` as a real process: health, dashboards, graceful shutdown, bad configuration.</summary>
public sealed class PlatformUpTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Up_answers_healthz_with_silo_storage_and_hangfire_healthy_and_serves_both_dashboards_locally()
    {
        await using var platform = PlatformProcess.StartUp();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        var health = await platform.WaitUntilHealthyAsync(http, StartTimeout);
        using (var json = JsonDocument.Parse(health))
        {
            Assert.Equal("Healthy", json.RootElement.GetProperty("status").GetString());
            var checks = json.RootElement.GetProperty("checks");
            foreach (var name in new[] { "silo", "storage", "hangfire" })
                Assert.Equal("Healthy", checks.GetProperty(name).GetProperty("status").GetString());
            Assert.Equal(1, checks.GetProperty("silo").GetProperty("data").GetProperty("activeSilos").GetInt32());
            Assert.True(checks.GetProperty("storage").GetProperty("data").GetProperty("emulator").GetBoolean());
            Assert.Equal("InMemory", checks.GetProperty("hangfire").GetProperty("data").GetProperty("storage").GetString());
        }

        using var hangfire = await http.GetAsync(new Uri(platform.BaseAddress, "/hangfire"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, hangfire.StatusCode);
        Assert.Equal("text/html", hangfire.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Hangfire", await hangfire.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));

        using var orleans = await http.GetAsync(new Uri(platform.BaseAddress, "/orleans/"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, orleans.StatusCode);
        Assert.Equal("text/html", orleans.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html", await orleans.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Sigterm_ends_up_cleanly_and_stops_the_azurite_it_started()
    {
        await using var platform = PlatformProcess.StartUp();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        await platform.WaitUntilHealthyAsync(http, StartTimeout);
        var azuritePid = platform.StartedAzuritePid();
        Assert.NotNull(azuritePid);
        Assert.True(PlatformProcess.IsAlive(azuritePid.Value));

        await platform.StopAsync(TimeSpan.FromSeconds(60));

        Assert.True(platform.Process.ExitCode == 0, $"exit code {platform.Process.ExitCode}{Environment.NewLine}{platform.Output}");
        Assert.Contains("Application is shutting down", platform.Output);
        Assert.False(PlatformProcess.IsAlive(azuritePid.Value), "the Azurite started by platform up is still running");
        Assert.False(AzuriteEmulator.IsListening(platform.Storage.BlobEndpoint.Port));
        Assert.False(AzuriteEmulator.IsListening(platform.Storage.TableEndpoint.Port));
    }

    [Fact]
    public async Task The_embedded_platform_keeps_its_data_in_the_emulator_folder_across_restarts()
    {
        var storage = StorageConnection.ForEmulator("127.0.0.1",
            AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var dataDirectory = Directory.CreateTempSubdirectory("platform-durable-").FullName;
        var gatewayPort = AzuriteEmulator.FreeTcpPort();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var client = ClientConfiguration(storage, gatewayPort);
        // A committed shard has its tar: the start-up check after the restart looks for it (a missing one is reported as damage).
        var tar = Path.Combine(dataDirectory, "shards", "00000.tar");
        Directory.CreateDirectory(Path.GetDirectoryName(tar)!);
        File.WriteAllBytes(tar, new byte[1700]);
        var shard = new ShardEntry("00000", 17, 1700, "abc", tar, DateTimeOffset.UnixEpoch);

        await using (var first = PlatformProcess.StartUp(storage: storage, dataDirectory: dataDirectory, gatewayPort: gatewayPort))
        {
            await first.WaitUntilHealthyAsync(http, StartTimeout);
            await using (var connection = await PlatformClient.ConnectAsync(client, TestContext.Current.CancellationToken))
                Assert.Equal(ShardAddResult.Added, await connection.Grains.GetGrain<IDatasetGrain>("durable").AddShard(shard));
            await first.StopAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, first.Process.ExitCode);
        }
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(dataDirectory, "azurite"), "*", SearchOption.AllDirectories));

        await using var second = PlatformProcess.StartUp(storage: storage, dataDirectory: dataDirectory, gatewayPort: gatewayPort);
        await second.WaitUntilHealthyAsync(http, StartTimeout);
        Assert.NotNull(second.StartedAzuritePid());
        await using var again = await PlatformClient.ConnectAsync(client, TestContext.Current.CancellationToken);
        var dataset = again.Grains.GetGrain<IDatasetGrain>("durable");
        Assert.Equal(1, (await dataset.GetTotals()).ShardCount);
        Assert.Equal(shard, await dataset.GetShard("00000"));
        Directory.Delete(dataDirectory, recursive: true);
    }

    private static PlatformConfiguration ClientConfiguration(StorageConnection storage, int gatewayPort) =>
        PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = storage.ConnectionString,
            ["Clustering:GatewayPort"] = gatewayPort.ToString(),
            ["Clustering:ServiceId"] = PlatformProcess.ServiceId,
        }).Build());

    [Fact]
    public async Task Up_with_a_bad_setting_exits_with_a_message_naming_the_setting_and_its_variable()
    {
        await using var platform = PlatformProcess.StartUp(new Dictionary<string, string>
        {
            ["PLATFORM_Clustering__SiloPort"] = "70000",
            ["PLATFORM_Web__Urls"] = "ftp://nowhere",
        });
        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await platform.Process.WaitForExitAsync(exited.Token);

        Assert.Equal(2, platform.Process.ExitCode);
        Assert.Contains("Clustering:SiloPort (environment variable PLATFORM_Clustering__SiloPort) = 70000 is not a TCP port", platform.Output);
        Assert.Contains("Web:Urls (environment variable PLATFORM_Web__Urls) entry 'ftp://nowhere' is not an http(s) URL", platform.Output);
        Assert.Null(platform.StartedAzuritePid());
    }
}
