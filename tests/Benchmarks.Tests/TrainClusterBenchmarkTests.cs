using System.Globalization;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;

namespace Platform.Benchmarks.Tests;

public sealed class TrainClusterBenchmarkTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("bench-train-cluster-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public async Task Benchmark_prints_each_round_the_medians_and_last_a_positive_finite_overhead_of_the_scheduler_over_the_command()
    {
        var settings = new TrainClusterSettings("tiny", Steps: 2, SamplesPerStep: 4, Threads: 1, Seed: 7, Shards: 2, SamplesPerShard: 6);

        var result = await TrainClusterBenchmark.RunAsync(cancellationToken => InMemoryAzuriteStorage.StartAsync("bench-datasets", cancellationToken),
            (silo, devices) => silo.AddPlatformDevices(devices), work, settings, rounds: 2, TestContext.Current.CancellationToken);
        var lines = result.Lines().ToArray();

        Assert.Equal(2, result.Rounds.Count);
        Assert.StartsWith("run preset=tiny steps=2 samples_per_step=4 threads=1 seed=7 dataset_shards=2 samples_per_shard=6", lines[0]);
        Assert.Matches(@"^warmup command=\d+\.\d\ds cluster_1_silo=\d+\.\d\ds$", lines[1]);
        Assert.Matches(@"^round 1 command=\d+\.\d\ds cluster_1_silo=\d+\.\d\ds$", lines[2]);
        Assert.Matches(@"^round 2 command=\d+\.\d\ds cluster_1_silo=\d+\.\d\ds$", lines[3]);
        Assert.Equal("medians over 2 round(s):", lines[4]);
        Assert.StartsWith("command seconds=", lines[5]);
        Assert.StartsWith("cluster_1_silo seconds=", lines[6]);
        // Both paths trained the same run: the scheduler's trainer must not change what is learned.
        Assert.True(result.SameWeights, $"the runs' weights differ by up to {result.MaxWeightDifference}");
        Assert.StartsWith("same_weights=true ", lines[7]);
        var last = Assert.Single(lines[8..]);
        Assert.StartsWith("train_cluster_overhead=", last);
        var overhead = double.Parse(last["train_cluster_overhead=".Length..], CultureInfo.InvariantCulture);
        Assert.True(double.IsFinite(overhead) && overhead > 0, $"overhead {overhead}");
        Assert.Equal(result.ClusterSeconds / result.CommandSeconds, overhead, 3);
    }
}
