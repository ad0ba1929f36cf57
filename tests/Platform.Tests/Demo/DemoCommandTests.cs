using System.Text.RegularExpressions;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Demo;

/// <summary>
/// `platform demo --exit` as a real process in a small setting, twice on the same state: the first captures, ingests, trains and
/// scores; the second reuses the dataset and trains a new run.
/// </summary>
public sealed partial class DemoCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(8);

    [Fact]
    public async Task Demo_runs_every_stage_and_tells_it_in_its_own_lines_then_a_second_demo_reuses_the_dataset_and_trains_a_new_run()
    {
        var state = Directory.CreateTempSubdirectory("platform-demo-").FullName;
        try
        {
            var environment = Environment(state);
            string[] arguments = ["demo", "--exit", "--work", Path.Combine(state, "demo"), "--images", "40", "--steps", "20", "--checkpoint-every", "10",
                "--eval-max-images", "4", "--batch", "8", "--warmup", "2"];

            var first = await PlatformCommand.RunAsync(Timeout, environment, arguments);
            var output = first.StandardOutput;
            Assert.True(first.ExitCode == 0, $"exit code {first.ExitCode}{System.Environment.NewLine}{output}{System.Environment.NewLine}{first.StandardError}");

            // Its own lines, not the host's: where the platform serves before anything runs, and no information lines of the host's log
            // (the grains' progress, ASP.NET's "Press Ctrl+C to shut down" before the demo ran) between them.
            Assert.Matches(@"Demo: the platform serves http://127\.0\.0\.1:\d+ \(its pages, /orleans, /hangfire\) while the demo runs on it", output);
            Assert.True(output.IndexOf("Demo: the platform serves", StringComparison.Ordinal) < output.IndexOf("Web site:", StringComparison.Ordinal), output);
            Assert.DoesNotMatch(@"(?m)^info: ", output);
            // The site: said before it is rendered (half a minute at the defaults); --images counts the captioned pictures, the noise is told apart.
            Assert.InRange(output.IndexOf("Web site: rendering 40 captioned pictures and the noise among them (seed 1).", StringComparison.Ordinal), 0,
                output.IndexOf("Web site: 40 captioned pictures", StringComparison.Ordinal));
            Assert.Matches(@"Web site: 40 captioned pictures and [1-9]\d* more planted as noise on \d+ pages", output);
            // The capture: robots.txt kept the crawler off the members' page.
            Assert.Matches(@"robots\.txt kept the crawler from 1 page", output);
            // The dataset: committed, with each kind of noise rejected for its reason.
            Assert.Matches(@"Ingest: Completed, .* shards (\d+)/\1 committed", output);
            Assert.Matches(@"Dataset demo-s1-n40: [1-9]\d* samples in [1-9]\d* shards", output);
            foreach (var reason in new[]
                     {
                         "alt_too_short", "alt_too_few_words", "page_opt_out", "language_not_allowed", "image_opt_out", "too_few_bytes",
                         "duplicate_url", "duplicate_image_bytes", "near_duplicate_image", "truncated",
                     })
                Assert.Matches($@"rejected .*\b{reason} [1-9]", output);
            // The pages' prose: kept by the text stage (the German page's rejected for its language) and mixed into the run.
            Assert.Matches(@"  text\s+\d+ in,\s+[1-9]\d* kept; rejected .*\blanguage_not_allowed [1-9]", output);
            Assert.Matches(@"Text: [1-9]\d* page text\(s\) kept by the text filters, in .*text-demo-s1-n40\.jsonl; the run mixes them in", output);
            // The run: completed, every checkpoint (steps 10 and 20) scored on both tasks, and on the leaderboard.
            var run = RunId(output);
            Assert.Contains($"Training run {run}: Completed, 20 steps", output);
            // The last step is told, and before the run's end.
            Assert.InRange(output.IndexOf("Train: step 20/20 ", StringComparison.Ordinal), 0, output.IndexOf("Train: Completed.", StringComparison.Ordinal));
            foreach (var task in new[] { "coco-captions", "vqa" })
            {
                Assert.Matches($@"Eval: step 10 {task} ", output);
                Assert.Matches($@"Eval: step 20 {task} ", output);
                Assert.Matches($@"  {task}: 2 checkpoint\(s\): step 10 .*, step 20 ", output);
            }
            Assert.Contains("== Demo summary ==", output);
            Assert.Matches(@"coco-captions CIDEr: \d+\.\d+ \(step 10\) -> \d+\.\d+ \(step 20\)", output);
            Assert.Contains("/hangfire", output);
            Assert.Contains("/orleans", output);
            // What to do next, with this build's executable, which exists.
            var next = NextCommand().Matches(output).Select(m => (Executable: m.Groups[1].Value, Arguments: m.Groups[2].Value)).ToArray();
            Assert.Equal([$"train status {run}", "train submit --dataset demo-s1-n40 --steps 200 --checkpoint-every 100"], next.Take(2).Select(n => n.Arguments));
            Assert.StartsWith("eval --checkpoint ", next[2].Arguments);
            Assert.All(next, n => Assert.True(Path.IsPathRooted(n.Executable.Replace("dotnet ", "")) && File.Exists(n.Executable.Replace("dotnet ", "")),
                $"{n.Executable} is not a full path to a file"));

            var second = await PlatformCommand.RunAsync(Timeout, environment, arguments);
            Assert.True(second.ExitCode == 0, $"exit code {second.ExitCode}{System.Environment.NewLine}{second.StandardOutput}{System.Environment.NewLine}{second.StandardError}");
            Assert.Contains("Dataset demo-s1-n40 exists (ingest job demo-s1-n40 completed", second.StandardOutput);
            Assert.DoesNotContain("Capture:", second.StandardOutput);
            Assert.DoesNotContain("Ingest: job", second.StandardOutput);
            var secondRun = RunId(second.StandardOutput);
            Assert.NotEqual(run, secondRun);
            Assert.Contains($"Training run {secondRun}: Completed, 20 steps", second.StandardOutput);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    /// <summary>The platform's own ports and Azurite (started and stopped by the demo), its state under <paramref name="state"/>.</summary>
    private static Dictionary<string, string> Environment(string state)
    {
        var storage = StorageConnection.ForEmulator("127.0.0.1", AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort(), AzuriteEmulator.FreeTcpPort());
        return new Dictionary<string, string>
        {
            ["PLATFORM_Storage__ConnectionString"] = storage.ConnectionString,
            ["PLATFORM_Storage__EmulatorDataDirectory"] = Path.Combine(state, "azurite"),
            ["PLATFORM_Web__Urls"] = $"http://127.0.0.1:{AzuriteEmulator.FreeTcpPort()}",
            ["PLATFORM_Clustering__SiloPort"] = AzuriteEmulator.FreeTcpPort().ToString(),
            ["PLATFORM_Clustering__GatewayPort"] = AzuriteEmulator.FreeTcpPort().ToString(),
            ["PLATFORM_Clustering__ServiceId"] = PlatformProcess.ServiceId,
            ["PLATFORM_Training__CheckpointRoot"] = Path.Combine(state, "checkpoints"),
            ["DOTNET_ENVIRONMENT"] = "Production",
        };
    }

    private static string RunId(string output) => RunQueued().Match(output) is { Success: true } match
        ? match.Groups[1].Value
        : throw new Xunit.Sdk.XunitException($"no queued run in the output:{System.Environment.NewLine}{output}");

    [GeneratedRegex(@"Train: run (\S+) queued")]
    private static partial Regex RunQueued();

    [GeneratedRegex(@"(?m)^  ((?:dotnet )?\S*platform(?:\.dll)?) ((?:train|eval) .+?)\r?$")]
    private static partial Regex NextCommand();
}
