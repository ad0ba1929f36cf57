using System.CommandLine;
using Platform.Silo.Demo;
using Platform.Silo.Hosting;

namespace Platform.Silo.Cli;

/// <summary>
/// `platform demo`: the embedded platform as `platform up` runs it, with the platform's main job run on it through its own APIs
/// (<see cref="DemoMission"/>), then serving until Ctrl+C (or stopping, with --exit).
/// </summary>
public static class DemoCommand
{
    /// <summary>The demo's defaults: under 3 minutes on an idle two-core machine from a built checkout, far longer under load (README, "The demo").</summary>
    public static DemoOptions Defaults() => new() { WorkDirectory = Path.Combine(PlatformConfiguration.StateRoot(), "demo") };

    public static Command Create()
    {
        var defaults = Defaults();
        var seed = new Option<int>("--seed") { Description = "Seed of the web site and the run; the held-out benchmark uses seed + 1000.", DefaultValueFactory = _ => defaults.Seed };
        var images = new Option<int>("--images") { Description = "Captioned pictures on the demo's web site (the dump's size; the noise comes on top).", DefaultValueFactory = _ => defaults.Images };
        var steps = new Option<int>("--steps") { Description = "Training steps.", DefaultValueFactory = _ => defaults.Steps };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints; each is scored on both tasks.", DefaultValueFactory = _ => defaults.CheckpointEvery };
        var evalMaxImages = new Option<int>("--eval-max-images") { Description = "Held-out test images each checkpoint is scored on, per task.", DefaultValueFactory = _ => defaults.EvalMaxImages };
        var batch = new Option<int>("--batch") { Description = "Samples per training step.", DefaultValueFactory = _ => defaults.SamplesPerStep };
        var learningRate = new Option<double>("--lr", "--learning-rate") { Description = "Peak learning rate.", DefaultValueFactory = _ => defaults.PeakLearningRate };
        var warmup = new Option<int>("--warmup") { Description = "Warmup steps.", DefaultValueFactory = _ => defaults.WarmupSteps };
        var threads = new Option<int>("--threads") { Description = "libtorch CPU threads of the trainer (0: libtorch's default).", DefaultValueFactory = _ => defaults.Threads };
        var work = new Option<string>("--work") { Description = "Folder of the demo's dump, ingest output, dataset and benchmark.", DefaultValueFactory = _ => defaults.WorkDirectory };
        var exit = new Option<bool>("--exit") { Description = "Stop the platform when the demo is done instead of serving until Ctrl+C." };
        var command = new Command("demo",
            "Run the embedded platform (as `up`) and its main job on it: capture a small web site into a WARC, ingest it as a dataset, "
            + "pretrain the tiny model on it with every checkpoint scored zero-shot on a held-out benchmark, print a summary, then keep serving.");
        foreach (var option in new Option[] { seed, images, steps, checkpointEvery, evalMaxImages, batch, learningRate, warmup, threads, work, exit })
            command.Options.Add(option);
        command.SetAction(async (result, _) =>
        {
            var options = new DemoOptions
            {
                Seed = result.GetValue(seed),
                Images = result.GetValue(images),
                Steps = result.GetValue(steps),
                CheckpointEvery = result.GetValue(checkpointEvery),
                EvalMaxImages = result.GetValue(evalMaxImages),
                SamplesPerStep = result.GetValue(batch),
                PeakLearningRate = result.GetValue(learningRate),
                WarmupSteps = result.GetValue(warmup),
                Threads = result.GetValue(threads),
                WorkDirectory = Path.GetFullPath(result.GetValue(work)!),
            };
            return await RunAsync(options, result.GetValue(exit));
        });
        return command;
    }

    internal static async Task<int> RunAsync(DemoOptions options, bool exitWhenDone)
    {
        var problems = options.Problems();
        if (problems.Count > 0)
        {
            foreach (var problem in problems) Console.Error.WriteLine(problem);
            return 2;
        }
        return await UpCommand.RunAsync((app, configuration, cancellationToken) =>
        {
            var web = new Uri(configuration.Web.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0]);
            return new DemoMission(web, app.Services.GetRequiredService<IGrainFactory>(), options, Console.Out).RunAsync(cancellationToken);
        }, exitWhenDone, QuietHostLogs);
    }

    /// <summary>
    /// The demo narrates every stage itself, so the host's own information lines (each grain's progress, ASP.NET's start-up banner with its
    /// "Press Ctrl+C to shut down" before anything ran) would only repeat it in another voice; warnings and errors still show. A
    /// `Logging:LogLevel:Platform` or `Logging:LogLevel:Microsoft.Hosting.Lifetime` setting (`PLATFORM_Logging__LogLevel__Platform=Information`) brings them back.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string?> QuietHostLogs = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Platform"] = "Warning",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
    };
}
