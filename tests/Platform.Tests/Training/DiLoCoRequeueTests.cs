using Platform.Grains.Training;

namespace Platform.Tests.Training;

/// <summary>
/// A DiLoCo run that loses the silo of its trainer (which holds the run's lease, its coordinator and replica 0), on a cluster
/// of its own: the test kills one silo and starts another.
/// </summary>
[Collection(ExactWeightsCollection.Name)]
public sealed class DiLoCoRequeueTests(TrainingClusterFixture cluster) : IClassFixture<TrainingClusterFixture>
{
    [Fact]
    public async Task A_run_that_lost_its_trainer_s_silo_goes_on_with_the_one_device_left_and_takes_a_replacement_when_a_device_returns()
    {
        // More rounds than the test waits for: it cancels the run once the replacement has trained a round.
        const int syncEvery = 2, rounds = 5000;
        var cancel = TestContext.Current.CancellationToken;
        // Checkpointing every round, so that the requeued attempt redoes only the round the first one lost.
        var spec = cluster.Spec("diloco-requeue", steps: syncEvery * rounds) with { Trainers = 2, Devices = 2, SyncEvery = syncEvery, CheckpointEvery = syncEvery };
        await cluster.Scheduler.Submit(spec);
        var running = await cluster.WaitForPhaseAsync(spec.RunId, TrainingRunPhase.Running);
        var record = cluster.Grains.GetGrain<ITrainingRunGrain>(spec.RunId);
        await WaitUntilAsync(async () => (await record.GetStatus()).Latest?.Step >= syncEvery, "the first round did not complete", cancel);

        var trainerSilo = cluster.Cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == running.Devices[0].Silo);
        await cluster.Cluster.KillSiloAsync(trainerSilo, cancel);

        // The cluster has one device left of the two the run asked for: the requeued run takes it rather than wait.
        var requeued = await cluster.WaitForAsync(spec.RunId, r => r.Attempt >= 2 && r.Phase == TrainingRunPhase.Running, "running again", TimeSpan.FromMinutes(2));
        Assert.Equal([running.Devices[1]], requeued.Devices);
        DiLoCoStatus? status = null;
        await WaitUntilAsync(async () => (status = await record.GetDiLoCoStatus()) is { } s && s.Attempt == requeued.Attempt && s.History.Count > 0,
            "the requeued attempt did not report its rounds", cancel);
        int resumedAt = status!.History[^1].Round;
        await WaitUntilAsync(async () => (status = await record.GetDiLoCoStatus())!.History.Any(r => r.Round > resumedAt && r.Ranks.SequenceEqual([0])),
            "the requeued attempt did not complete a round with its one replica", cancel);

        // A silo with a device joins: the scheduler gives it to the run, and replica 1 takes part again from the current round.
        await cluster.Cluster.StartAdditionalSiloAsync();
        int beforeJoin = (await record.GetDiLoCoStatus())!.Round;
        await WaitUntilAsync(async () => (status = await record.GetDiLoCoStatus())!.History.Any(r => r.Round >= beforeJoin && r.Ranks.SequenceEqual([0, 1])),
            "no replacement joined the run", cancel, TimeSpan.FromMinutes(2));
        var replaced = await cluster.Scheduler.Get(spec.RunId);
        Assert.Equal(requeued.Attempt, replaced!.Attempt);
        Assert.Equal(2, replaced.Devices.Count);
        Assert.DoesNotContain(running.Devices[0], replaced.Devices);

        await cluster.Scheduler.Cancel(spec.RunId);
        await cluster.WaitForAsync(spec.RunId, r => r.IsFinished, "finished", TimeSpan.FromMinutes(1));
        // Every round once, the one the first attempt lost redone by the second; the record's recent steps have no gap (it
        // keeps every step of its recent window only, and the coordinator its recent rounds).
        var final = (await record.GetDiLoCoStatus())!;
        Assert.True(final.Round < rounds, "the run must still have been running when the test cancelled it");
        var roundNumbers = final.History.Select(r => r.Round).ToArray();
        Assert.Equal(Enumerable.Range(roundNumbers[0], roundNumbers.Length), roundNumbers);
        var history = (await record.GetStatus()).History.Select(s => s.Step).ToArray();
        var recent = history.Where(step => step > history[^1] - 400).ToArray();
        Assert.Equal(Enumerable.Range(recent[0], recent.Length), recent);
        Assert.True(history[^1] >= final.Round * syncEvery, $"the record's last step {history[^1]} is behind the rounds done ({final.Round})");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string failure, CancellationToken cancel, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(2));
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(200, cancel);
        }
    }
}
