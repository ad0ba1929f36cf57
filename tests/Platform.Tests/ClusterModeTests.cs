using System.Text.Json;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>Two `platform up` processes with Azure Table clustering on one storage account form one cluster.</summary>
public sealed class ClusterModeTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Two_silo_processes_with_azure_table_clustering_see_each_other()
    {
        var cluster = new Dictionary<string, string>
        {
            ["PLATFORM_Clustering__Mode"] = "AzureTable",
            ["PLATFORM_Clustering__ClusterId"] = "two-process-" + Guid.NewGuid().ToString("N")[..8],
            ["PLATFORM_Storage__ConnectionString"] = azurite.Connection.ConnectionString,
        };
        await using var first = PlatformProcess.StartUp(cluster);
        await using var second = PlatformProcess.StartUp(cluster);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        await first.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));
        await second.WaitUntilHealthyAsync(http, TimeSpan.FromSeconds(120));

        // Membership converges within a few probe rounds.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        int seenByFirst = 0, seenBySecond = 0;
        while (DateTime.UtcNow < deadline)
        {
            seenByFirst = await ActiveSilosAsync(http, first);
            seenBySecond = await ActiveSilosAsync(http, second);
            if (seenByFirst == 2 && seenBySecond == 2) break;
            await Task.Delay(500, TestContext.Current.CancellationToken);
        }
        Assert.Equal(2, seenByFirst);
        Assert.Equal(2, seenBySecond);
        // Both used the shared emulator rather than starting their own.
        Assert.Null(first.StartedAzuritePid());
        Assert.Null(second.StartedAzuritePid());
    }

    private static async Task<int> ActiveSilosAsync(HttpClient http, PlatformProcess platform)
    {
        var body = await http.GetStringAsync(new Uri(platform.BaseAddress, "/healthz"));
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("checks").GetProperty("silo").GetProperty("data").GetProperty("activeSilos").GetInt32();
    }
}
