using System.CommandLine;
using Platform.Model.Devices;

namespace Platform.Benchmarks;

/// <summary>`platform bench ...`: the benchmarks' commands, which the `platform` executable adds to its command tree.</summary>
public static class BenchCommands
{
    /// <param name="startClusterStorage">Starts the storage that the cluster benchmarks' in-process silos share; the host knows how.</param>
    /// <param name="addDevices">Gives an in-process silo training devices as the host gives its own (`bench train-cluster`).</param>
    public static Command Create(Func<CancellationToken, Task<IClusterStorage>> startClusterStorage, Action<ISiloBuilder, IReadOnlyList<TrainingDevice>> addDevices)
    {
        var bench = new Command("bench", "Benchmarks that print a figure as a ratio against a baseline measured in the same run.");
        bench.Subcommands.Add(BenchExtractCommand.Create());
        bench.Subcommands.Add(BenchTrainCommand.Create());
        bench.Subcommands.Add(BenchImagesCommand.Create());
        bench.Subcommands.Add(BenchIngestClusterCommand.Create(startClusterStorage));
        bench.Subcommands.Add(BenchTrainClusterCommand.Create(startClusterStorage, addDevices));
        bench.Subcommands.Add(BenchDecodeCommand.Create());
        bench.Subcommands.Add(BenchRetrievalCommand.Create());
        bench.Subcommands.Add(BenchTokenizerCommand.Create());
        bench.Subcommands.Add(BenchTrainScaleCommand.Create(startClusterStorage, addDevices));
        return bench;
    }
}
