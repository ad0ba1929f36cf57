using System.CommandLine;

namespace Platform.Silo.Cli;

/// <summary>
/// The `platform` executable's command tree. Each concern contributes its commands from its own
/// file (`UpCommand`, `IngestCommands`, `BenchCommands`, ...) so this file only assembles them.
/// </summary>
public static class PlatformCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand(
            "SimVLM platform: ingest web dumps into WebDataset shards, pretrain with PrefixLM, evaluate checkpoints.");
        root.Subcommands.Add(UpCommand.Create());
        root.Subcommands.Add(IngestClusterCommands.AddTo(IngestCommands.Create()));
        root.Subcommands.Add(CrawlCommand.Create());
        root.Subcommands.Add(ModelCommands.CreateTrain());
        root.Subcommands.Add(ModelCommands.CreateCaption());
        root.Subcommands.Add(EvalCommands.Create());
        root.Subcommands.Add(BenchmarkDataCommand.Create());

        var bench = new Command("bench", "Benchmarks that print a figure as a ratio against a baseline measured in the same run.");
        bench.Subcommands.Add(BenchExtractCommand.Create());
        bench.Subcommands.Add(ModelCommands.CreateBenchTrain());
        bench.Subcommands.Add(BenchImagesCommand.Create());
        bench.Subcommands.Add(BenchIngestClusterCommand.Create());
        root.Subcommands.Add(bench);
        return root;
    }
}
