using System.Globalization;
using System.Text.RegularExpressions;
using Platform.Model.Tests;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;

namespace Platform.Benchmarks.Tests;

public sealed class TrainScaleBenchmarkTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("bench-train-scale-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void Threads_mode_trains_twice_the_tokens_with_two_replicas_and_the_efficiency_compares_the_median_rates()
    {
        var settings = new TrainScaleSettings("micro", SamplesPerStep: 3, SyncEvery: 2, SyncRounds: 2, WarmupSteps: 1, Seed: 4, Rounds: 2);
        var result = TrainScaleBenchmark.Run(settings, TestModels.Micro);

        Assert.Equal(TrainScaleMode.Threads, result.Mode);
        Assert.Equal(2, result.Rounds.Count);
        Assert.All(result.Rounds, round =>
        {
            Assert.Equal(1, round.One.Trainers);
            Assert.Equal(2, round.Two.Trainers);
            // Every sample is as long as the model allows, so each step trains the same tokens: two replicas, twice the tokens.
            Assert.True(round.One.Tokens > 0);
            Assert.Equal(2 * round.One.Tokens, round.Two.Tokens);
            Assert.True(round.One.Seconds > 0 && round.Two.Seconds > 0);
            Assert.InRange(round.Two.OutsideStepsSeconds, 0, round.Two.Seconds);
        });
        Assert.Equal(result.TwoTokensPerSecond / (2 * result.OneTokensPerSecond), result.ScaleEfficiency, 12);
        Assert.StartsWith("scale_efficiency=", result.Lines().Last());
    }

    [Fact]
    public async Task Silos_mode_runs_the_two_trainers_as_replica_grains_on_two_distinct_silos_and_prints_each_round_the_medians_and_last_the_efficiency()
    {
        var settings = new TrainScaleSettings("tiny", SamplesPerStep: 2, SyncEvery: 2, SyncRounds: 2, WarmupSteps: 10, Seed: 3, Rounds: 2);

        var result = await TrainScaleClusterBenchmark.RunAsync(cancellationToken => InMemoryAzuriteStorage.StartAsync("bench-datasets", cancellationToken),
            (silo, devices) => silo.AddPlatformDevices(devices), work, settings, new TrainScaleData(Shards: 2, SamplesPerShard: 4), TestContext.Current.CancellationToken);
        var lines = result.Lines().ToArray();

        Assert.Equal(TrainScaleMode.Silos, result.Mode);
        Assert.Equal(2, result.Rounds.Count);
        Assert.All(result.Rounds, round =>
        {
            // The replicas name the silo they trained on themselves: two grains, one on each silo.
            Assert.Equal(2, round.Two.Silos.Count);
            Assert.Equal(2, round.Two.Silos.Distinct().Count());
            Assert.All(round.Two.Silos, silo => Assert.Matches(@"^\d+\.\d+\.\d+\.\d+:\d+@\d+$", silo));
            Assert.Single(round.One.Silos);
            Assert.True(round.One.Tokens > 0 && round.Two.Tokens > 0);
            Assert.True(round.One.Seconds > 0 && round.Two.Seconds > 0);
            Assert.NotNull(round.Two.BarrierSeconds);
            Assert.InRange(round.Two.BarrierSeconds!.Value, 0, round.Two.Seconds);
        });
        Assert.Equal(2, result.TwoTrainerSilos.Count);
        Assert.StartsWith("run mode=silos preset=tiny samples_per_step=2 sync_every=2 sync_rounds=2 warmup_steps=10 threads_per_trainer=1 seed=3 rounds=2 dataset_shards=2 samples_per_shard=4", lines[0]);
        var runLines = lines.Where(l => Regex.IsMatch(l, @"^round \d+ trainers=\d tokens=")).ToArray();
        Assert.Equal(4, runLines.Length);
        Assert.Matches(@"^round 1 trainers=1 tokens=\d+ seconds=\d+\.\d\d tokens/s=\d+ outside_steps_s=-?\d+\.\d\d ", runLines[0]);
        Assert.Matches(@"^round 1 trainers=2 tokens=\d+ seconds=\d+\.\d\d tokens/s=\d+ outside_steps_s=-?\d+\.\d\d barrier_s=\d+\.\d\d ", runLines[1]);
        // The second round goes the other way round.
        Assert.StartsWith("round 2 trainers=2 ", runLines[2]);
        Assert.StartsWith("round 2 trainers=1 ", runLines[3]);
        // Each two-trainer run says where its time outside the steps went, replicas' and coordinator's parts.
        var costLines = lines.Where(l => l.Contains(" outside the steps: ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, costLines.Length);
        Assert.All(costLines, l => Assert.Matches(
            @"^round \d trainers=2 outside the steps: replica wait_s=\d+\.\d\d fetch_s=\d+\.\d\d pseudo_gradient_s=\d+\.\d\d chunk_write_s=\d+\.\d\d state_save_s=\d+\.\d\d; coordinator read_average_s=\d+\.\d\d record_s=\d+\.\d\d outer_step_s=\d+\.\d\d publish_s=\d+\.\d\d$", l));
        Assert.Contains(lines, l => l.StartsWith("two-trainer replica 0 ran on ", StringComparison.Ordinal));
        Assert.Contains("medians over 2 round(s):", lines);
        var last = lines[^1];
        Assert.StartsWith("scale_efficiency=", last);
        var efficiency = double.Parse(last["scale_efficiency=".Length..], CultureInfo.InvariantCulture);
        Assert.True(double.IsFinite(efficiency) && efficiency > 0, $"efficiency {efficiency}");
        Assert.Equal(result.ScaleEfficiency, efficiency, 3);
    }

    [Fact]
    public async Task Silos_mode_refuses_a_warmup_that_is_not_a_multiple_of_the_trainer_s_metric_reads_before_starting_anything()
    {
        var settings = new TrainScaleSettings("tiny", SamplesPerStep: 2, SyncEvery: 2, SyncRounds: 1, WarmupSteps: 3, Seed: 3);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => TrainScaleClusterBenchmark.RunAsync(
            _ => throw new InvalidOperationException("no storage may start"), (_, _) => { }, work, settings, new TrainScaleData(2, 4), TestContext.Current.CancellationToken));

        Assert.Contains("--warmup 3", error.Message);
    }
}
