using System.CommandLine;
using Platform.Benchmarks;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;

namespace Platform.Silo.Cli;

/// <summary>
/// The `platform` executable's command tree. Each concern contributes its commands from its own
/// file (`UpCommand`, `IngestCommands`, ...; the benchmarks' `BenchCommands` from their own assembly) so this file only assembles them.
/// </summary>
public static class PlatformCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand(
            "SimVLM platform: ingest web dumps into WebDataset shards, pretrain with PrefixLM, evaluate checkpoints.");
        root.Subcommands.Add(UpCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(IngestClusterCommands.AddTo(IngestCommands.Create()));
        root.Subcommands.Add(CrawlCommand.Create());
        root.Subcommands.Add(DevicesCommand.Create());
        root.Subcommands.Add(TrainClusterCommands.AddTo(ModelCommands.CreateTrain()));
        root.Subcommands.Add(ModelCommands.CreateCaption());
        root.Subcommands.Add(ModelCommands.CreateExport());
        root.Subcommands.Add(ModelInfoCommand.Create());
        root.Subcommands.Add(TokenizerCommands.Create());
        root.Subcommands.Add(EvalCommands.Create());
        root.Subcommands.Add(BenchmarkDataCommand.Create());
        root.Subcommands.Add(CommandInputErrors.ReportingInputErrors(
            BenchCommands.Create(cancellationToken => InMemoryAzuriteStorage.StartAsync("bench-datasets", cancellationToken), (silo, devices) => silo.AddPlatformDevices(devices)),
            "bench"));
        return root;
    }
}
