using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>
/// Commands pointed at a platform or a storage account that is not running: one line that names what they tried to
/// reach and what to do, within seconds, and no stack trace in it (Orleans' own log of each attempt goes to stderr too, a line per entry).
/// </summary>
public sealed class UnreachablePlatformTests
{
    [Fact]
    public async Task Commands_say_in_one_line_that_nothing_answers_and_what_to_do()
    {
        int gateway = AzuriteEmulator.FreeTcpPort();
        var storage = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        var environment = new Dictionary<string, string>
        {
            ["PLATFORM_Clustering__GatewayPort"] = gateway.ToString(),
            ["PLATFORM_Clustering__ClientConnectTimeout"] = "00:00:10",
            ["PLATFORM_Storage__ConnectionString"] = storage.ConnectionString,
        };
        string output = Path.Combine(Path.GetTempPath(), "unreachable-" + Guid.NewGuid().ToString("N"));
        string noPlatform = $"Could not reach the gateway at 127.0.0.1:{gateway} in 00:00:10";
        string noStorage = $"Cannot reach the platform's blob storage at {storage.BlobEndpoint.ToString().TrimEnd('/')} to read dataset 'web'";
        // Exit code 1 where the platform is missing (the command was right), 2 where the dataset could not be read.
        (string[] Arguments, string Expected, int ExitCode)[] cases =
        [
            (["train", "submit", "--dataset", "web", "--steps", "1"], noPlatform, 1),
            (["devices"], noPlatform, 1),
            (["ingest", "status", "some-job"], noPlatform, 1),
            (["train", "--dataset", "web", "--steps", "1", "--out", output], noStorage, 2),
            (["tokenizer", "train", "--dataset", "web", "--vocab", "300", "--out", Path.Combine(output, "x.model")], noStorage, 2),
        ];

        // Side by side: each waits out its own retries.
        var results = await Task.WhenAll(cases.Select(c => PlatformCommand.RunAsync(TimeSpan.FromMinutes(2), environment, c.Arguments)));

        foreach (var ((arguments, expected, exitCode), result) in cases.Zip(results))
        {
            string command = string.Join(' ', arguments);
            string[] lines = result.OwnErrorLines;
            Assert.True(result.ExitCode == exitCode, $"{command}: exit code {result.ExitCode}\n{result.StandardOutput}\n{result.StandardError}");
            Assert.True(lines.Length == 1, $"{command}: {lines.Length} lines on stderr\n{result.StandardError}");
            Assert.StartsWith(expected, lines[0]);
            Assert.Contains("platform up", lines[0]);
            if (expected == noPlatform) Assert.Contains("Last attempt: ", lines[0]);
            Assert.DoesNotContain("Unhandled exception", result.StandardOutput + result.StandardError);
            Assert.DoesNotContain("   at ", string.Join('\n', lines));
            Assert.Equal("", result.StandardOutput);
        }
        Assert.False(Directory.Exists(output));
    }
}
