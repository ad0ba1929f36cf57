using System.CommandLine;
using Platform.Model.Devices;

namespace Platform.Benchmarks;

/// <summary>`platform bench train-cluster`: the same small run through `platform train`'s one-process path and through the training scheduler on one in-process silo.</summary>
public static class BenchTrainClusterCommand
{
    public static Command Create(Func<CancellationToken, Task<IClusterStorage>> startStorage, Action<ISiloBuilder, IReadOnlyList<TrainingDevice>> addDevices)
    {
        var work = new Option<string>("--work") { Description = "Folder for the generated dataset and the runs' checkpoints (emptied first; default: under the temp folder)." };
        var preset = BenchArguments.PresetOption();
        // Long enough that a run takes several seconds on two cores, so the fixed costs of a submission are measured against real training.
        var steps = new Option<int>("--steps") { Description = "Optimiser steps of each run.", DefaultValueFactory = _ => 60 };
        var batch = new Option<int>("--batch") { Description = "Samples per step.", DefaultValueFactory = _ => 18 };
        // One thread by default: the same on every machine, and leaves a core to the silo on a two-core one.
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch in both paths.", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "The runs' seed.", DefaultValueFactory = _ => 1UL };
        var shards = new Option<int>("--shards") { Description = "Shards of the generated dataset.", DefaultValueFactory = _ => 4 };
        var perShard = new Option<int>("--samples-per-shard") { Description = "Captioned pictures per shard.", DefaultValueFactory = _ => 32 };
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds after one warm-up round, each training once through each path; the figures are the medians.", DefaultValueFactory = _ => 9 };
        var command = new Command("train-cluster",
            "Time the same small training run through `platform train`'s one-process path and through the scheduler on one in-process silo with one CPU device, " +
            "on one generated dataset, in alternating rounds after a warm-up; the last line is train_cluster_overhead=<cluster / command>, from the medians.");
        foreach (var option in new Option[] { work, preset, steps, batch, threads, seed, shards, perShard, rounds }) command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var folder = result.GetValue(work) ?? Path.Combine(Path.GetTempPath(), "platform-bench-train-cluster");
            result.Preset(preset); // checked here: the scheduler would only fail the run after starting a silo
            var settings = new TrainClusterSettings(result.GetValue(preset)!, result.AtLeast(steps, 1), result.AtLeast(batch, 1), result.AtLeast(threads, 1),
                result.GetValue(seed), result.AtLeast(shards, 1), result.AtLeast(perShard, 1));
            var measured = await TrainClusterBenchmark.RunAsync(startStorage, addDevices, folder, settings, result.AtLeast(rounds, 1), cancellationToken);
            foreach (var line in measured.Lines()) Console.WriteLine(line);
            return measured.SameWeights ? 0 : 1;
        });
        return command;
    }
}
