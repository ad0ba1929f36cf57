using System.CommandLine;

namespace Platform.Benchmarks;

/// <summary>`platform bench ingest-cluster`: the cluster job on 1 and 2 silos against `ingest run`'s library on the same generated input.</summary>
public static class BenchIngestClusterCommand
{
    public static Command Create(Func<CancellationToken, Task<IClusterStorage>> startStorage)
    {
        var work = new Option<string>("--work") { Description = "Folder for the generated input and the three datasets (emptied first; default: under the temp folder)." };
        var files = new Option<int>("--files") { Description = "Generated WARC files (one extraction unit each).", DefaultValueFactory = _ => 8 };
        // Large enough that the job's fixed costs (activations, state writes, lease ticks) do not dominate: about 8 s of work on one core.
        var pages = new Option<int>("--pages") { Description = "Pages per file.", DefaultValueFactory = _ => 600 };
        var pictures = new Option<int>("--pictures") { Description = "Distinct pictures (each with some exact and near copies).", DefaultValueFactory = _ => 1600 };
        var perShard = new Option<int>("--samples-per-shard") { Description = "Samples per shard.", DefaultValueFactory = _ => 250 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds, each running the library and both cluster jobs once; the figures are the medians.", DefaultValueFactory = _ => 3 };
        var command = new Command("ingest-cluster",
            "Time `ingest run`'s library, then the cluster job on 1 and on 2 in-process silos, on the same input, in alternating rounds; the last line is cluster_overhead=<1 silo / library>, from the medians.");
        foreach (var option in new Option[] { work, files, pages, pictures, perShard, rounds }) command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var folder = result.GetValue(work) ?? Path.Combine(Path.GetTempPath(), "platform-bench-ingest-cluster");
            var measured = await IngestClusterBenchmark.RunAsync(startStorage, folder, result.AtLeast(files, 1), result.AtLeast(pages, 1), result.AtLeast(pictures, 1),
                result.AtLeast(perShard, 1), result.AtLeast(rounds, 1), cancellationToken);
            foreach (var line in measured.Lines()) Console.WriteLine(line);
            return measured.SameDataset ? 0 : 1;
        });
        return command;
    }
}
