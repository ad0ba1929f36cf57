using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using Platform.Grains.Datasets;
using Platform.Silo.Hosting;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Datasets;

/// <summary>
/// `/healthz` of a real `platform up` while its start-up check runs, after it succeeded and after it failed. The check is held by a
/// committed tar that is a FIFO: hashing it waits until the test writes the tar's bytes into it.
/// </summary>
public sealed class StartupCheckHealthTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("startup-check-health-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    /// <summary>A platform folder whose commit journal names <paramref name="tar"/> as shard 00000 of dataset 'held' with these contents.</summary>
    private async Task<string> JournalAsync(string tar, byte[] contents)
    {
        var data = Directory.CreateDirectory(Path.Combine(root, "platform")).FullName;
        var shard = new ShardEntry("00000", 1, contents.Length, Convert.ToHexStringLower(SHA256.HashData(contents)), tar, DateTimeOffset.UnixEpoch);
        // The folder `platform up` journals beside the Azurite data it keeps under its working folder.
        await new ShardCommitJournal(Path.Combine(data, "azurite.journal")).AppendAsync("held", [shard], TestContext.Current.CancellationToken);
        return data;
    }

    /// <summary>Polls /healthz until the silo, storage and Hangfire entries are all Healthy; returns its status code and its datasets entry.</summary>
    private static async Task<(HttpStatusCode Status, string DatasetsStatus, string DatasetsDescription)> OnceTheRestIsUpAsync(PlatformProcess platform, HttpClient http)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(platform.Process.HasExited, platform.Output);
            try
            {
                using var response = await http.GetAsync("/healthz", TestContext.Current.CancellationToken);
                last = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                using var report = JsonDocument.Parse(last);
                var checks = report.RootElement.GetProperty("checks");
                if (new[] { "silo", "storage", "hangfire" }.All(name => checks.GetProperty(name).GetProperty("status").GetString() == "Healthy"))
                {
                    var datasets = checks.GetProperty("datasets");
                    return (response.StatusCode, datasets.GetProperty("status").GetString()!, datasets.GetProperty("description").GetString()!);
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException($"the silo, storage and Hangfire did not all become healthy. Last answer: {last}{Environment.NewLine}{platform.Output}");
    }

    [Fact]
    public async Task Healthz_answers_503_starting_until_the_start_up_check_has_finished_and_200_once_it_has()
    {
        byte[] contents = [1, 2, 3];
        var tar = Path.Combine(Directory.CreateDirectory(Path.Combine(root, "shards")).FullName, "00000.tar");
        Assert.Equal(0, mkfifo(tar, Convert.ToUInt32("600", 8)));
        var data = await JournalAsync(tar, contents);
        await using var platform = PlatformProcess.StartUp(dataDirectory: data);
        using var http = new HttpClient { BaseAddress = platform.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };

        // A fresh folder has no clean-stop marker: the check hashes every committed tar, and this one has no writer yet.
        var starting = await OnceTheRestIsUpAsync(platform, http);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, starting.Status);
        Assert.Equal("Unhealthy", starting.DatasetsStatus);
        Assert.Equal("starting: start-up check running", starting.DatasetsDescription);

        await using (var writer = new FileStream(tar, FileMode.Open, FileAccess.Write)) await writer.WriteAsync(contents, TestContext.Current.CancellationToken);
        await platform.WaitUntilHealthyAsync(http, TimeSpan.FromMinutes(1));
        var done = await OnceTheRestIsUpAsync(platform, http);
        Assert.Equal(HttpStatusCode.OK, done.Status);
        Assert.Equal("every committed shard matches its manifest checksum", done.DatasetsDescription);
    }

    [Fact]
    public async Task Healthz_answers_503_with_the_failure_when_the_start_up_check_fails()
    {
        // A committed tar that is a folder cannot be read: the check fails (it does not find the tar missing, nor different).
        var tar = Directory.CreateDirectory(Path.Combine(root, "shards", "00000.tar")).FullName;
        var data = await JournalAsync(tar, [1, 2, 3]);
        await using var platform = PlatformProcess.StartUp(dataDirectory: data);
        using var http = new HttpClient { BaseAddress = platform.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        var failed = await OnceTheRestIsUpAsync(platform, http);
        while (failed.DatasetsDescription.StartsWith("starting", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250, TestContext.Current.CancellationToken);
            failed = await OnceTheRestIsUpAsync(platform, http);
        }
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.Status);
        Assert.Equal("Unhealthy", failed.DatasetsStatus);
        Assert.StartsWith("start-up check failed: ", failed.DatasetsDescription);
        Assert.Contains(tar, failed.DatasetsDescription);
    }
}
