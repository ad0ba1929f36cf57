using Platform.Silo.Cli;

namespace Platform.Tests;

/// <summary>The benchmarks live in their own assembly; the `platform` executable must still offer them as `platform bench ...`.</summary>
public sealed class BenchCommandLineTests
{
    [Fact]
    public void Every_benchmark_is_reachable_as_platform_bench_with_its_options()
    {
        var bench = Assert.Single(PlatformCommandLine.Build().Subcommands, c => c.Name == "bench");
        Assert.Equal(new[] { "extract", "train", "images", "ingest-cluster", "train-cluster", "decode", "retrieval", "tokenizer", "train-scale" }, bench.Subcommands.Select(c => c.Name));

        string[][] commands =
        [
            ["bench", "extract", "dump.warc.gz", "--generate-mb", "1"],
            ["bench", "train", "--preset", "tiny", "--batch", "36"],
            ["bench", "images", "--count", "10", "--max-cores", "1"],
            ["bench", "ingest-cluster", "--rounds", "1", "--files", "2", "--pages", "10", "--pictures", "20", "--samples-per-shard", "50", "--work", "bench"],
            ["bench", "train-cluster", "--rounds", "1", "--steps", "2", "--batch", "4", "--threads", "1", "--seed", "3", "--shards", "1", "--samples-per-shard", "8", "--preset", "tiny", "--work", "bench"],
            ["bench", "decode", "--preset", "tiny", "--images", "4", "--tokens", "20", "--rounds", "3", "--beam", "2", "--threads", "1", "--seed", "2", "--device", "cpu"],
            ["bench", "retrieval", "--preset", "tiny", "--images", "12", "--captions-per-image", "5", "--batch-size", "16", "--rounds", "1", "--threads", "1", "--seed", "2"],
            ["bench", "tokenizer", "--vocab", "2000", "--training-texts", "1000", "--texts", "500", "--rounds", "3", "--seed", "2"],
            ["bench", "train-scale", "--mode", "silos", "--preset", "tiny", "--batch", "4", "--sync-every", "50", "--sync-rounds", "1", "--rounds", "1", "--warmup", "10", "--seed", "3", "--shards", "2", "--samples-per-shard", "8", "--work", "bench"],
            ["bench", "train-scale", "--mode", "threads", "--batch", "4", "--sync-every", "2", "--sync-rounds", "1", "--rounds", "1", "--warmup", "2"],
        ];
        foreach (var command in commands) Assert.Empty(PlatformCommandLine.Build().Parse(command).Errors);
        Assert.NotEmpty(PlatformCommandLine.Build().Parse(["bench", "train", "--no-such-option"]).Errors);
    }
}
