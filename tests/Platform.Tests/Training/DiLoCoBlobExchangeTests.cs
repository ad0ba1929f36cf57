using Azure.Storage.Blobs.Models;
using Orleans.TestingHost;
using Platform.Benchmarks;
using Platform.Grains.Training;
using Platform.Model.Training.DiLoCo;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>
/// A multi-trainer run checkpointing to a blob container on two silos that share no folder: each silo has a checkpoint root
/// of its own, so only the container can carry the rounds, the outer state and the replicas' states. Paused and resumed by a
/// new attempt (new replica grains, new trainers), it must end with the weights of the same run exchanged through a folder.
/// </summary>
[Collection(ExactWeightsCollection.Name)]
public sealed class DiLoCoBlobExchangeTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const int SyncEvery = 2, Rounds = 3;

    private readonly string root = Directory.CreateTempSubdirectory("diloco-blob-exchange-").FullName;
    private InProcessTestCluster cluster = null!;

    private string CheckpointRoot(string silo) => Path.Combine(root, silo, "checkpoints");

    // Rounds of a loaded two-core machine can outlast the fixture's stall timeout, and a stalled attempt is a new one: the
    // attempts here are the pause's.
    public async ValueTask InitializeAsync() =>
        cluster = await TrainingClusterFixture.StartTwoDeviceSilosAsync(azurite.Connection, $"diloco-blob-{Guid.NewGuid().ToString("N")[..8]}", CheckpointRoot,
            stallTimeout: TimeSpan.FromMinutes(2));

    public async ValueTask DisposeAsync()
    {
        await cluster.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    private ITrainingSchedulerGrain Scheduler => cluster.Client.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);

    private async Task<TrainingRunSummary> WaitForAsync(string runId, TrainingRunPhase phase)
    {
        TrainingRunSummary? run = null;
        await TrainingKillTests.WaitUntilAsync(async () => (run = await Scheduler.Get(runId))?.Phase == phase, $"run {runId} {phase}", TimeSpan.FromMinutes(2));
        return run!;
    }

    [Fact]
    public async Task A_run_exchanging_through_blobs_on_silos_without_a_common_folder_resumes_after_a_pause_and_ends_with_the_weights_of_the_run_through_a_folder()
    {
        var ct = TestContext.Current.CancellationToken;
        var dataset = $"blobx-{Guid.NewGuid():N}"[..14];
        await TrainingDatasetGenerator.CommitAsync(cluster.Client, dataset,
            await TrainingDatasetGenerator.WriteAsync(Path.Combine(root, "dataset"), shards: 2, samplesPerShard: 6, seed: 5, ct));
        var container = $"diloco-{Guid.NewGuid():N}";
        var blobs = azurite.Connection.CreateBlobClient();
        var location = $"{blobs.Uri.ToString().TrimEnd('/')}/{container}/runs/blob-run";
        var throughFolder = TrainingClusterFixture.TinySpec("folder-run", dataset, SyncEvery * Rounds) with
        {
            // Checkpointing every round, so that the new attempt resumes mid-run: the replicas save their states only where the run checkpoints.
            Trainers = 2, Devices = 2, SyncEvery = SyncEvery, CheckpointEvery = SyncEvery, CheckpointLocation = Path.Combine(root, "folder-run"),
        };
        var throughBlobs = throughFolder with { RunId = "blob-run", CheckpointLocation = location };

        await Scheduler.Submit(throughFolder);
        await WaitForAsync(throughFolder.RunId, TrainingRunPhase.Completed);

        await Scheduler.Submit(throughBlobs);
        var record = cluster.Client.GetGrain<ITrainingRunGrain>(throughBlobs.RunId);
        await TrainingKillTests.WaitUntilAsync(async () => (await record.GetStatus()).Latest?.Step >= SyncEvery, "the first round", TimeSpan.FromMinutes(2));
        await Scheduler.Pause(throughBlobs.RunId);
        var paused = await WaitForAsync(throughBlobs.RunId, TrainingRunPhase.Paused);
        Assert.True(paused.Step < throughBlobs.Steps, $"the run must stop before its end (it stopped at {paused.Step}) for the resume to prove anything");
        await Scheduler.Resume(throughBlobs.RunId);
        Assert.Equal(2, (await WaitForAsync(throughBlobs.RunId, TrainingRunPhase.Completed)).Attempt);
        Assert.Equal(1, (await WaitForAsync(throughFolder.RunId, TrainingRunPhase.Completed)).Attempt);

        var rounds = (await record.GetDiLoCoStatus())!;
        Assert.Equal(Rounds, rounds.Round);
        // A replica silent for a lease (a slow start on a loaded machine) is dropped from its round, which then averages one
        // replica alone: the weights would differ for that reason, said here rather than as a difference.
        Assert.All(rounds.History, r => Assert.True(r.Ranks.SequenceEqual([0, 1]), $"round {r.Round} had replicas {string.Join(",", r.Ranks)} only"));
        Assert.Equal(Enumerable.Range(1, SyncEvery * Rounds), (await record.GetStatus()).History.Select(s => s.Step));

        // Nothing of the run went to a silo's checkpoint root; the container holds its outer state and replica states, and no
        // finished round's chunks.
        foreach (var silo in cluster.Silos)
            Assert.False(Directory.Exists(Path.Combine(CheckpointRoot(silo.Name), throughBlobs.RunId)), $"the run wrote into {silo.Name}'s checkpoint root");
        var names = await blobs.GetBlobContainerClient(container).GetBlobsAsync(BlobTraits.None, BlobStates.None, "runs/blob-run/diloco/", ct)
            .Select(b => b.Name["runs/blob-run/diloco/".Length..]).ToListAsync(ct);
        Assert.Contains("outer/latest", names);
        Assert.Contains("rounds.json", names);
        Assert.Contains(names, n => n.StartsWith("replica-1/round-", StringComparison.Ordinal));
        Assert.DoesNotContain(names, n => n.StartsWith("round-", StringComparison.Ordinal));

        var viaBlobs = (await OuterOptimizer.LoadLatestAsync(await DiLoCoExchange.OpenAsync(DiLoCoExchange.LocationFor(location), blobs, ct), DiLoCoExchange.OuterFolder, ct))!;
        var viaFolder = (await OuterOptimizer.LoadLatestAsync(Path.Combine(DiLoCoExchange.LocationFor(throughFolder.CheckpointLocation!), DiLoCoExchange.OuterFolder)))!;
        Assert.Equal((Rounds, Rounds), (viaFolder.Round, viaBlobs.Round));
        double difference = viaFolder.Weights.Zip(viaBlobs.Weights).Max(p => p.First.Values.Zip(p.Second.Values).Max(v => Math.Abs((double)v.First - v.Second)));
        Assert.True(difference <= 1e-5, $"the run through blobs ends with weights that differ from the run through a folder by {difference}");
    }
}
