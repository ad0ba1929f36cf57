using Orleans.TestingHost;
using Platform.Benchmarks;
using Platform.Grains.Training;
using Platform.Model.Training.DiLoCo;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>
/// Every silo of a cluster dies in the middle of a DiLoCo run, and a new cluster starts on the same storage (Azurite's
/// tables and blobs, the same checkpoint folder): its scheduler finds the lost attempt and requeues the run, whose new
/// attempt resumes from the outer state and the replicas' inner states and ends with the weights of the run trained without
/// a stop.
/// </summary>
[Collection(ExactWeightsCollection.Name)]
public sealed class DiLoCoRestartTests(AzuriteFixture azurite) : IDisposable
{
    private const int SyncEvery = 2, Rounds = 6;

    private readonly string root = Directory.CreateTempSubdirectory("diloco-restart-").FullName;
    private readonly string serviceId = $"diloco-restart-{Guid.NewGuid().ToString("N")[..8]}";

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>Two silos with a CPU device each, sharing one service id (so one scheduler state) and one checkpoint root.</summary>
    private Task<InProcessTestCluster> StartClusterAsync() =>
        TrainingClusterFixture.StartTwoDeviceSilosAsync(azurite.Connection, serviceId, _ => Path.Combine(root, "checkpoints"));

    private static ITrainingSchedulerGrain Scheduler(InProcessTestCluster cluster) => cluster.Client.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);

    private static string OuterFolder(string checkpointLocation) => Path.Combine(DiLoCoExchange.LocationFor(checkpointLocation), DiLoCoExchange.OuterFolder);

    private static async Task<TrainingRunSummary> FinishedAsync(InProcessTestCluster cluster, string runId)
    {
        TrainingRunSummary? run = null;
        await TrainingKillTests.WaitUntilAsync(async () => (run = await Scheduler(cluster).Get(runId)) is { IsFinished: true }, $"run {runId}'s end", TimeSpan.FromMinutes(3));
        return run!;
    }

    [Fact]
    public async Task A_run_whose_whole_cluster_died_mid_round_resumes_on_a_new_cluster_and_ends_with_the_weights_of_the_run_never_stopped()
    {
        var ct = TestContext.Current.CancellationToken;
        var dataset = $"restart-{Guid.NewGuid():N}"[..14];
        // Checkpointing every round: the replicas save their states only where the run checkpoints, and a restart resumes there.
        var stopped = TrainingClusterFixture.TinySpec("diloco-stopped", dataset, SyncEvery * Rounds) with { Trainers = 2, Devices = 2, SyncEvery = SyncEvery, CheckpointEvery = SyncEvery };
        var straight = stopped with { RunId = "diloco-straight" };

        int roundAtStop;
        DateTimeOffset stoppedAt;
        var first = await StartClusterAsync();
        try
        {
            await TrainingDatasetGenerator.CommitAsync(first.Client, dataset,
                await TrainingDatasetGenerator.WriteAsync(Path.Combine(root, "dataset"), shards: 2, samplesPerShard: 6, seed: 3, ct));
            await Scheduler(first).Submit(stopped);
            var record = first.Client.GetGrain<ITrainingRunGrain>(stopped.RunId);
            // Two rounds done (their outer step saved); the replicas go straight on into the next, so the silos die wherever
            // the round has got to.
            var location = (await record.GetStatus()).CheckpointLocation;
            await TrainingKillTests.WaitUntilAsync(async () => (await OuterOptimizer.LoadLatestAsync(OuterFolder(location)))?.Round >= 2, "two rounds", TimeSpan.FromMinutes(3));
            stoppedAt = DateTimeOffset.UtcNow;
            foreach (var silo in first.Silos.ToList()) await first.KillSiloAsync(silo, ct);
            roundAtStop = (await OuterOptimizer.LoadLatestAsync(OuterFolder(location)))!.Round;
        }
        finally
        {
            try { await first.DisposeAsync(); }
            catch (Exception e) when (e is not OutOfMemoryException) { /* a client whose every silo died may fail to close: nothing of it is needed */ }
        }
        Assert.True(roundAtStop is >= 2 and < Rounds, $"the cluster must die mid-run (the outer state was at round {roundAtStop} of {Rounds})");

        // Asking the scheduler where the run stands activates it, as the host's Hangfire check job or its wake reminder would.
        await using var second = await StartClusterAsync();
        var resumed = await FinishedAsync(second, stopped.RunId);
        Assert.Equal(TrainingRunPhase.Completed, resumed.Phase);
        Assert.True(resumed.Attempt >= 2, $"the run completed in attempt {resumed.Attempt}, so nothing resumed it after the stop");
        var record2 = second.Client.GetGrain<ITrainingRunGrain>(stopped.RunId);
        var rounds = (await record2.GetDiLoCoStatus())!;
        Assert.Equal(Rounds, rounds.Round);
        Assert.Equal(Enumerable.Range(0, Rounds), rounds.History.Select(r => r.Round));
        // A replica silent for a lease (a slow start on a loaded machine) is dropped from its round, which then averages one
        // replica alone: the weights would differ for that reason, said here rather than as a difference.
        Assert.All(rounds.History, r => Assert.True(r.Ranks.SequenceEqual([0, 1]), $"round {r.Round} had replicas {string.Join(",", r.Ranks)} only"));
        var status = await record2.GetStatus();
        Assert.Equal(Enumerable.Range(1, SyncEvery * Rounds), status.History.Select(s => s.Step));
        // The rounds done before the stop were taken up, not trained again.
        Assert.All(status.History.Where(s => s.Step <= roundAtStop * SyncEvery), s => Assert.True(s.FinishedAt < stoppedAt, $"step {s.Step} was trained again after the stop"));

        await Scheduler(second).Submit(straight);
        Assert.Equal(TrainingRunPhase.Completed, (await FinishedAsync(second, straight.RunId)).Phase);
        var expected = (await OuterOptimizer.LoadLatestAsync(OuterFolder((await second.Client.GetGrain<ITrainingRunGrain>(straight.RunId).GetStatus()).CheckpointLocation)))!;
        var actual = (await OuterOptimizer.LoadLatestAsync(OuterFolder(status.CheckpointLocation)))!;
        Assert.Equal((Rounds, Rounds), (expected.Round, actual.Round));
        double difference = expected.Weights.Zip(actual.Weights).Max(p => p.First.Values.Zip(p.Second.Values).Max(v => Math.Abs((double)v.First - v.Second)));
        Assert.True(difference <= 1e-5, $"the restarted run's weights differ from the uninterrupted run's by {difference}");
    }
}
