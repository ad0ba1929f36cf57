using System.CommandLine;

namespace Platform.Benchmarks;

/// <summary>`platform bench train-scale`: tokens/s of one trainer, then of two DiLoCo replicas at once, each on one thread; last line scale_efficiency=.</summary>
public static class BenchTrainScaleCommand
{
    public static Command Create()
    {
        var preset = BenchArguments.PresetOption();
        // Small steps keep a round of H = 50 steps under a minute on one core of a shared machine.
        var batch = new Option<int>("--batch") { Description = "Samples per step of each trainer.", DefaultValueFactory = _ => 6 };
        var syncEvery = new Option<int>("--sync-every") { Description = "H: local steps per DiLoCo round.", DefaultValueFactory = _ => 50 };
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds.", DefaultValueFactory = _ => 1 };
        var warmup = new Option<int>("--warmup") { Description = "Steps before the measured rounds, not counted.", DefaultValueFactory = _ => 3 };
        var seed = new Option<ulong>("--seed") { Description = "The runs' seed.", DefaultValueFactory = _ => 1UL };
        var command = new Command("train-scale",
            "Tokens per second of one trainer, then of two DiLoCo replicas training at the same time (in-process, each on its own thread, libtorch limited to one thread), " +
            "averaging every H steps; the last line is scale_efficiency=<two-trainer tokens/s / (2 x one-trainer tokens/s)>.");
        foreach (var option in new Option[] { preset, batch, syncEvery, rounds, warmup, seed }) command.Options.Add(option);
        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            result.Preset(preset); // the replicas build their models on their own threads, where a bad name would surface as a replica's failure
            var settings = new TrainScaleSettings(result.GetValue(preset)!, result.AtLeast(batch, 1), result.AtLeast(syncEvery, 1), result.AtLeast(rounds, 1), result.AtLeast(warmup, 0), result.GetValue(seed));
            foreach (var line in TrainScaleBenchmark.Run(settings).Lines()) Console.WriteLine(line);
            return Task.FromResult(0);
        });
        return command;
    }
}
