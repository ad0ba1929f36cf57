using System.CommandLine;

namespace Platform.Benchmarks;

/// <summary>`platform bench ...`: the benchmarks' commands, which the `platform` executable adds to its command tree.</summary>
public static class BenchCommands
{
    /// <param name="startClusterStorage">Starts the storage that `bench ingest-cluster`'s in-process silos share; the host knows how.</param>
    public static Command Create(Func<CancellationToken, Task<IClusterStorage>> startClusterStorage)
    {
        var bench = new Command("bench", "Benchmarks that print a figure as a ratio against a baseline measured in the same run.");
        bench.Subcommands.Add(BenchExtractCommand.Create());
        bench.Subcommands.Add(BenchTrainCommand.Create());
        bench.Subcommands.Add(BenchImagesCommand.Create());
        bench.Subcommands.Add(BenchIngestClusterCommand.Create(startClusterStorage));
        return bench;
    }
}
