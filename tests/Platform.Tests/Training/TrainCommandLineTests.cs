using Microsoft.Extensions.Configuration;
using Platform.Grains.Devices;
using Platform.Grains.Evaluation;
using Platform.Grains.Training;
using Platform.Silo.Cli;
using Platform.Silo.Hosting;

namespace Platform.Tests.Training;

/// <summary>The training commands' parsing, settings and status text, without a running platform.</summary>
public sealed class TrainCommandLineTests
{
    private static string? Invoked(params string[] args)
    {
        var result = PlatformCommandLine.Build().Parse(args);
        return result.Errors.Count == 0 ? result.CommandResult.Command.Name : string.Join("; ", result.Errors.Select(e => e.Message));
    }

    [Fact]
    public void Train_keeps_its_one_process_options_and_its_subcommands_do_not_ask_for_them()
    {
        Assert.Equal("train", Invoked("train", "--data", "a.tar", "--steps", "3", "--out", "run"));
        Assert.Equal("Option '--out' is required.", Invoked("train", "--data", "a.tar", "--steps", "3"));
        Assert.Equal("submit", Invoked("train", "submit", "--dataset", "web", "--steps", "3", "--batch", "4", "--lr", "0.001", "--eval", "vqa"));
        Assert.Equal("Option '--steps' is required.", Invoked("train", "submit", "--dataset", "web"));
        Assert.Equal("status", Invoked("train", "status", "run-1"));
        Assert.Equal("list", Invoked("train", "list"));
        foreach (var control in new[] { "cancel", "pause", "resume" }) Assert.Equal(control, Invoked("train", control, "run-1"));
    }

    [Fact]
    public void Every_training_cluster_option_has_a_setting_with_its_default_and_the_host_binds_it()
    {
        var settings = new TrainingSettings();
        var options = new TrainingClusterOptions();
        foreach (var option in typeof(TrainingClusterOptions).GetProperties())
        {
            var setting = typeof(TrainingSettings).GetProperty(option.Name);
            Assert.True(setting is not null, $"Training:{option.Name} is missing from TrainingSettings");
            Assert.Equal(option.GetValue(options), setting.GetValue(settings));
        }

        var configuration = PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Training:CheckpointRoot"] = "/shared/checkpoints",
            ["Training:BenchmarkData"] = "/shared/benchmark",
            ["Training:LeaseTimeout"] = "00:00:07",
            ["Training:StallTimeout"] = "00:03:00",
            ["Training:MaxFailures"] = "9",
            ["Training:CheckInterval"] = "00:00:02",
            ["Training:HistoryRecentSteps"] = "11",
            ["Training:HistoryOlderPoints"] = "13",
        }).Build());
        var bound = new TrainingClusterOptions();
        configuration.ApplyTrainingSettings(bound);

        Assert.Equal("/shared/checkpoints", bound.CheckpointRoot);
        Assert.Equal("/shared/benchmark", bound.BenchmarkData);
        Assert.Equal(TimeSpan.FromSeconds(7), bound.LeaseTimeout);
        Assert.Equal(TimeSpan.FromMinutes(3), bound.StallTimeout);
        Assert.Equal(9, bound.MaxFailures);
        Assert.Equal(TimeSpan.FromSeconds(2), bound.CheckInterval);
        Assert.Equal(11, bound.HistoryRecentSteps);
        Assert.Equal(13, bound.HistoryOlderPoints);
    }

    [Fact]
    public void A_relative_checkpoint_root_and_benchmark_folder_are_under_the_state_folder()
    {
        var bound = new TrainingClusterOptions();
        PlatformConfiguration.Load(new ConfigurationBuilder().Build()).ApplyTrainingSettings(bound);

        Assert.Equal(Path.Combine(PlatformConfiguration.StateRoot(), "checkpoints"), bound.CheckpointRoot);
        Assert.Equal(Path.Combine(PlatformConfiguration.StateRoot(), "benchmark"), bound.BenchmarkData);
    }

    [Fact]
    public void Submit_without_eval_leaves_the_evaluations_to_the_default_and_eval_none_asks_for_none()
    {
        Assert.Equal((null, null), TrainClusterCommands.Evaluations(null, null, "test", null, null));
        var (none, noneProblem) = TrainClusterCommands.Evaluations("none", null, "test", null, null);
        Assert.NotNull(none);
        Assert.Empty(none);
        Assert.Null(noneProblem);

        var (named, namedProblem) = TrainClusterCommands.Evaluations("coco-captions, vqa", "/data/bench", "val", 7, "cpu");
        Assert.Null(namedProblem);
        Assert.Equal([new RunEvaluation("coco-captions", "/data/bench", "val", MaxImages: 7, Device: "cpu"), new RunEvaluation("vqa", "/data/bench", "val", MaxImages: 7, Device: "cpu")], named!);

        Assert.Contains("cannot be combined", TrainClusterCommands.Evaluations("none,vqa", null, "test", null, null).Problem);
        Assert.Contains("takes no --eval-data", TrainClusterCommands.Evaluations("none", "/data/bench", "test", null, null).Problem);
        Assert.Contains("--eval needs --eval-data", TrainClusterCommands.Evaluations("vqa", null, "test", null, null).Problem);
        Assert.Contains("--eval-device takes only 'cpu'", TrainClusterCommands.Evaluations("vqa", "/data/bench", "test", null, "gpu").Problem);
        Assert.Contains("--eval-device is used only with --eval", TrainClusterCommands.Evaluations(null, null, "test", null, "cpu").Problem);
    }

    [Fact]
    public void Bad_training_settings_stop_the_start_naming_each_setting_and_its_variable()
    {
        var error = Assert.Throws<PlatformConfigurationException>(() => PlatformConfiguration.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Training:CheckpointRoot"] = " ",
                ["Training:BenchmarkData"] = "",
                ["Training:LeaseTimeout"] = "00:00:00",
                ["Training:StallTimeout"] = "-00:00:01",
                ["Training:MaxFailures"] = "0",
                ["Training:CheckInterval"] = "00:00:00",
                ["Training:HistoryRecentSteps"] = "0",
                ["Training:HistoryOlderPoints"] = "-1",
            }).Build()));

        foreach (var setting in new[] { "CheckpointRoot", "BenchmarkData", "LeaseTimeout", "StallTimeout", "MaxFailures", "CheckInterval", "HistoryRecentSteps", "HistoryOlderPoints" })
            Assert.Contains($"Training:{setting} (environment variable PLATFORM_Training__{setting})", error.Message);
        Assert.Equal(8, error.Problems.Count);
    }

    [Fact]
    public void Status_shows_a_progress_bar_with_loss_and_eta_then_devices_checkpoints_and_the_evaluation_curve()
    {
        var spec = new TrainingRunSpec { RunId = "run-7", Dataset = "web", Steps = 200 };
        var device = new DeviceAddress("127.0.0.1:11111@1", "cpu:0");
        var summary = new TrainingRunSummary("run-7", TrainingRunPhase.Running, 3, 1, 1, null, [device], null, 2, 50, 200, null,
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, null);
        var latest = new TrainingStepRecord(50, 4.25, 3e-4, 1.5, 1234, null, 0.5, 0.1, 0.2, 0.15, 0.05, DateTimeOffset.UnixEpoch);
        var status = new TrainingRunStatus(summary, spec, "/ckpt/run-7", latest, [latest],
            [new RunCheckpoint(25, "/ckpt/run-7/step-25", DateTimeOffset.UnixEpoch, Deleted: true), new RunCheckpoint(50, "/ckpt/run-7/step-50", DateTimeOffset.UnixEpoch, false)],
            [
                new RunEvaluationResult(25, "coco-captions", EvaluationPhase.Completed, "CIDEr", 0.1234, null),
                new RunEvaluationResult(50, "coco-captions", EvaluationPhase.Running, null, null, null),
                new RunEvaluationResult(50, "vqa", EvaluationPhase.NotStarted, null, null, null, "waits for a device: all 2 devices are held"),
            ],
            TimeSpan.FromSeconds(95), "silo-a");

        var lines = TrainClusterCommands.Describe(status).Split('\n');

        Assert.Equal("run-7: Running [########......................] 25% step 50/200, loss 4.2500, lr 3.00E-004, 1234 tokens/s, ETA 1m 35s", lines[0]);
        Assert.Equal("  devices: cpu:0 on 127.0.0.1:11111@1 (attempt 2, silo-a)", lines[1]);
        Assert.Contains("  checkpoints: step 25 (deleted), step 50", lines);
        Assert.Contains("  coco-captions: step 25 CIDEr 0.1234, step 50 Running", lines);
        Assert.Contains("  vqa: step 50 waits for a device: all 2 devices are held", lines);
    }
}
