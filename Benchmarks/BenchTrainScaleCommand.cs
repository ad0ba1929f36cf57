using System.CommandLine;
using Platform.Model.Devices;

namespace Platform.Benchmarks;

/// <summary>`platform bench train-scale`: tokens/s of one trainer, then of two DiLoCo trainers on two in-process silos, each on one thread; last line scale_efficiency=.</summary>
public static class BenchTrainScaleCommand
{
    public static Command Create(Func<CancellationToken, Task<IClusterStorage>> startStorage, Action<ISiloBuilder, IReadOnlyList<TrainingDevice>> addDevices)
    {
        var mode = new Option<TrainScaleMode>("--mode")
        {
            Description = "silos: trainer grains through the scheduler on two in-process silos; threads: bare DiLoCo replicas on threads of this process, for comparison.",
            DefaultValueFactory = _ => TrainScaleMode.Silos,
        };
        var work = new Option<string>("--work") { Description = "Silos: folder for the generated dataset and the runs' checkpoints (emptied first; default: under the temp folder)." };
        var preset = BenchArguments.PresetOption();
        // Small steps keep a round of H = 50 steps within a minute on one core of a shared machine.
        var batch = new Option<int>("--batch") { Description = "Samples per step of each trainer.", DefaultValueFactory = _ => 6 };
        var syncEvery = new Option<int>("--sync-every") { Description = "H: local steps per DiLoCo round.", DefaultValueFactory = _ => 50 };
        var syncRounds = new Option<int>("--sync-rounds") { Description = "Measured DiLoCo rounds of each two-trainer run (on silos, after one warm-up round); one trainer trains as many steps.", DefaultValueFactory = _ => 1 };
        var warmup = new Option<int>("--warmup") { Description = "Steps of the one-trainer run before its window (on silos a multiple of 10, the trainer's metric reads); threads: of both.", DefaultValueFactory = _ => 10 };
        var rounds = new Option<int>("--rounds") { Description = "Benchmark rounds, each one run of each configuration in alternating order; the figures are the medians.", DefaultValueFactory = _ => 3 };
        var seed = new Option<ulong>("--seed") { Description = "The runs' seed.", DefaultValueFactory = _ => 1UL };
        var shards = new Option<int>("--shards") { Description = "Silos: shards of the generated dataset (the replicas' data parts; at least 2).", DefaultValueFactory = _ => 4 };
        var perShard = new Option<int>("--samples-per-shard") { Description = "Silos: captioned pictures per shard.", DefaultValueFactory = _ => 32 };
        var command = new Command("train-scale",
            "Tokens per second of one trainer, then of two DiLoCo trainers (K=2, averaging every H steps) on two in-process silos through the training scheduler, " +
            "each with libtorch limited to one thread, timed from the runs' own step and round records in alternating rounds; " +
            "the last line is scale_efficiency=<two-trainer tokens/s / (2 x one-trainer tokens/s)>, from the medians.");
        foreach (var option in new Option[] { mode, work, preset, batch, syncEvery, syncRounds, warmup, rounds, seed, shards, perShard }) command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            result.Preset(preset); // the replicas build their models on their own threads, where a bad name would surface as a replica's failure
            var settings = new TrainScaleSettings(result.GetValue(preset)!, result.AtLeast(batch, 1), result.AtLeast(syncEvery, 1), result.AtLeast(syncRounds, 1),
                result.AtLeast(warmup, 0), result.GetValue(seed), result.AtLeast(rounds, 1));
            TrainScaleBenchmarkResult measured;
            try
            {
                measured = result.GetValue(mode) == TrainScaleMode.Threads
                    ? TrainScaleBenchmark.Run(settings)
                    : await TrainScaleClusterBenchmark.RunAsync(startStorage, addDevices, result.GetValue(work) ?? Path.Combine(Path.GetTempPath(), "platform-bench-train-scale"),
                        settings, new TrainScaleData(result.GetValue(shards), result.GetValue(perShard)), cancellationToken);
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
            foreach (var line in measured.Lines()) Console.WriteLine(line);
            return 0;
        });
        return command;
    }
}
