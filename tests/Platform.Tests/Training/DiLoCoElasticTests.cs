using Platform.Grains.Training;

namespace Platform.Tests.Training;

/// <summary>A DiLoCo run that loses a replica's silo mid-run, on a cluster of its own (the test kills one of its silos).</summary>
[Collection(ExactWeightsCollection.Name)]
public sealed class DiLoCoElasticTests(TrainingClusterFixture cluster) : IClassFixture<TrainingClusterFixture>
{
    [Fact]
    public async Task Killing_the_silo_of_one_replica_mid_run_drops_it_and_the_other_finishes_every_round_without_training_a_part_twice()
    {
        const int syncEvery = 3, rounds = 6;
        var spec = cluster.Spec("diloco-elastic", steps: syncEvery * rounds) with { Trainers = 2, Devices = 2, SyncEvery = syncEvery };
        await cluster.Scheduler.Submit(spec);
        var running = await cluster.WaitForPhaseAsync(spec.RunId, TrainingRunPhase.Running);
        // The first round is done once the run's record holds its steps. The coordinator is not asked before the run ends:
        // a call from this client could activate it on any silo, the victim's included, before the trainer does.
        var record = cluster.Grains.GetGrain<ITrainingRunGrain>(spec.RunId);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while ((await record.GetStatus()).Latest is not { } latest || latest.Step < syncEvery)
        {
            Assert.True(DateTime.UtcNow < deadline, "the first round did not complete");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        // The second device's silo holds replica 1 only; the first's holds the trainer with the run's lease.
        var victim = cluster.Cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == running.Devices[1].Silo);
        int killedInRound = ((await record.GetStatus()).Latest?.Step ?? 0) / syncEvery;
        await cluster.Cluster.KillSiloAsync(victim, TestContext.Current.CancellationToken);

        var finished = await cluster.WaitForAsync(spec.RunId, r => r.IsFinished, "finished", TimeSpan.FromMinutes(4));
        Assert.Equal(TrainingRunPhase.Completed, finished.Phase);
        Assert.Equal(1, finished.Attempt);

        var status = (await cluster.Grains.GetGrain<ITrainingRunGrain>(spec.RunId).GetDiLoCoStatus())!;
        Assert.Equal(rounds, status.Round);
        Assert.Equal(Enumerable.Range(0, rounds), status.History.Select(r => r.Round));
        Assert.Equal([0, 1], status.History[0].Ranks);
        // From the round it was killed in (or the next, if its report was in), only replica 0 reports.
        Assert.All(status.History.Where(r => r.Round > killedInRound), r => Assert.Equal([0], r.Ranks));
        Assert.True(status.Replicas.Single(r => r.Rank == 1).Dropped);
        var given = status.History.SelectMany(r => r.Epochs.Zip(r.Parts)).ToArray();
        Assert.Equal(given.Length, given.Distinct().Count());

        var recorded = await record.GetStatus();
        Assert.Equal(Enumerable.Range(1, syncEvery * rounds), recorded.History.Select(s => s.Step));
    }
}
