using Platform.Grains.Training;
using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;
using Platform.Silo.Hosting;

namespace Platform.Tests.Training;

/// <summary>
/// Multi-trainer (DiLoCo) runs on the training cluster: two replicas on the two silos that offer a device, a coordinator
/// grain holding the outer state. (Exact weights are not compared here; the libtorch generator is process-wide and the
/// replicas share this process, so only the shape of the run is asserted.)
/// </summary>
[Collection(ExactWeightsCollection.Name)]
public sealed class DiLoCoRunTests(TrainingClusterFixture cluster) : IClassFixture<TrainingClusterFixture>, IAsyncLifetime
{
    public async ValueTask InitializeAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while ((await cluster.Scheduler.Allocations()).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(200);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Two_replicas_on_two_silos_train_whole_rounds_on_disjoint_parts_and_the_coordinator_keeps_the_outer_state()
    {
        const int syncEvery = 2, rounds = 3;
        var spec = cluster.Spec("diloco-two", steps: syncEvery * rounds) with { Trainers = 2, Devices = 2, SyncEvery = syncEvery, SyncPrecision = "bf16" };
        await cluster.Scheduler.Submit(spec);
        var running = await cluster.WaitForPhaseAsync(spec.RunId, TrainingRunPhase.Running);
        Assert.Equal(2, running.Devices.Select(d => d.Silo).Distinct().Count());
        await cluster.WaitForPhaseAsync(spec.RunId, TrainingRunPhase.Completed);

        var status = (await cluster.Grains.GetGrain<ITrainingRunGrain>(spec.RunId).GetDiLoCoStatus())!;
        Assert.True(status.Finished);
        Assert.Equal(rounds, status.Round);
        Assert.Equal(Enumerable.Range(0, rounds), status.History.Select(r => r.Round));
        Assert.All(status.History, round =>
        {
            Assert.Equal([0, 1], round.Ranks);
            Assert.True(round.BytesUp > 0);
            Assert.True(double.IsFinite(round.MeanLoss));
        });
        // The dataset's two shards are the parts: every epoch gives each to exactly one replica.
        var given = status.History.SelectMany(r => r.Epochs.Zip(r.Parts)).ToArray();
        Assert.Equal(given.Length, given.Distinct().Count());
        Assert.All(given.GroupBy(p => p.First), epoch => Assert.Equal([0, 1], epoch.Select(p => p.Second).Order()));

        var record = await cluster.Grains.GetGrain<ITrainingRunGrain>(spec.RunId).GetStatus();
        Assert.Equal(Enumerable.Range(1, syncEvery * rounds), record.History.Select(s => s.Step));
        var outer = OuterOptimizer.LoadLatest(DiLoCoExchange(record.CheckpointLocation));
        Assert.NotNull(outer);
        Assert.Equal(rounds, outer!.Round);

        // The run's checkpoint is the global weights at its last round boundary, in a folder evaluations load like a single trainer's.
        var checkpoint = Assert.Single(record.Checkpoints, c => !c.Deleted);
        Assert.Equal(syncEvery * rounds, checkpoint.Step);
        var (model, _) = Checkpoint.LoadForInference(checkpoint.Folder);
        using (model)
        {
            var saved = NamedWeights.Read(model);
            Assert.Equal(outer.Weights.Select(w => w.Name), saved.Select(w => w.Name));
            Assert.All(outer.Weights.Zip(saved), pair => Assert.Equal(pair.First.Values, pair.Second.Values));
        }
    }

    [Fact]
    public async Task A_run_paused_mid_run_and_resumed_by_a_new_attempt_ends_with_the_weights_of_the_same_run_uninterrupted()
    {
        const int syncEvery = 2, rounds = 10;
        var uninterrupted = cluster.Spec("diloco-straight", steps: syncEvery * rounds) with { Trainers = 2, Devices = 2, SyncEvery = syncEvery };
        var interrupted = uninterrupted with { RunId = "diloco-paused" };
        await cluster.Scheduler.Submit(uninterrupted);
        await cluster.WaitForPhaseAsync(uninterrupted.RunId, TrainingRunPhase.Completed);

        // A new attempt has new replica grains and new trainers: only the outer state and the replicas' saved inner states carry over.
        await cluster.Scheduler.Submit(interrupted);
        var record = cluster.Grains.GetGrain<ITrainingRunGrain>(interrupted.RunId);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while ((await record.GetStatus()).Latest is not { } latest || latest.Step < syncEvery)
        {
            Assert.True(DateTime.UtcNow < deadline, "the first round did not complete");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        await cluster.Scheduler.Pause(interrupted.RunId);
        var paused = await cluster.WaitForPhaseAsync(interrupted.RunId, TrainingRunPhase.Paused);
        Assert.True(paused.Step < interrupted.Steps, $"the run must stop before its end (it stopped at {paused.Step}) for the resume to prove anything");
        await cluster.Scheduler.Resume(interrupted.RunId);
        var resumed = await cluster.WaitForPhaseAsync(interrupted.RunId, TrainingRunPhase.Completed);
        Assert.Equal(2, resumed.Attempt);

        var straight = OuterOptimizer.LoadLatest(DiLoCoExchange((await cluster.Grains.GetGrain<ITrainingRunGrain>(uninterrupted.RunId).GetStatus()).CheckpointLocation))!;
        var again = OuterOptimizer.LoadLatest(DiLoCoExchange((await record.GetStatus()).CheckpointLocation))!;
        Assert.Equal(rounds, again.Round);
        double difference = straight.Weights.Zip(again.Weights).Max(p => p.First.Values.Zip(p.Second.Values).Max(v => Math.Abs((double)v.First - v.Second)));
        Assert.True(difference <= 1e-5, $"the resumed run's weights differ from the uninterrupted run's by {difference}");
    }

    private static string DiLoCoExchange(string checkpointLocation) => Path.Combine(checkpointLocation, "diloco", "outer");

    [Fact]
    public async Task A_run_of_two_trainers_checkpointing_to_a_blob_container_uploads_its_global_checkpoints_there_and_lists_them_by_url()
    {
        const int syncEvery = 2, rounds = 2;
        var ct = TestContext.Current.CancellationToken;
        var location = $"{cluster.Blobs.Uri.ToString().TrimEnd('/')}/diloco-{Guid.NewGuid():N}/runs/diloco-blob";
        var spec = cluster.Spec("diloco-blob", steps: syncEvery * rounds) with
        {
            Trainers = 2, Devices = 2, SyncEvery = syncEvery, CheckpointEvery = syncEvery, CheckpointLocation = location,
        };
        await cluster.Scheduler.Submit(spec);
        await cluster.WaitForPhaseAsync(spec.RunId, TrainingRunPhase.Completed);

        var record = await cluster.Grains.GetGrain<ITrainingRunGrain>(spec.RunId).GetStatus();
        Assert.Equal(location, record.CheckpointLocation);
        var store = BlobCheckpointStore.Open(location, cluster.Blobs);
        Assert.Equal(syncEvery * rounds, await store.LatestStepAsync(ct));
        var live = record.Checkpoints.Where(c => !c.Deleted).ToArray();
        Assert.Contains(live, c => c.Step == syncEvery * rounds);
        Assert.All(live, c => Assert.Equal(store.FolderUrl(c.Step), c.Folder));
        Assert.Equal(live.Select(c => c.Step), (await store.StepsAsync(ct)).Intersect(live.Select(c => c.Step)));

        // The rounds were exchanged in the run's folder under the cluster's checkpoint root; the uploaded last checkpoint
        // holds the global weights the exchange ended with.
        var outer = OuterOptimizer.LoadLatest(DiLoCoExchange(Path.Combine(cluster.CheckpointRoot, spec.RunId)))!;
        Assert.Equal(rounds, outer.Round);
        var downloaded = await BlobCheckpointStore.DownloadFolderAsync(store.FolderUrl(syncEvery * rounds), cluster.Blobs,
            Path.Combine(cluster.CheckpointRoot, "downloaded-" + spec.RunId), ct);
        var (model, _) = Checkpoint.LoadForInference(downloaded);
        using (model)
        {
            var saved = NamedWeights.Read(model);
            Assert.All(outer.Weights.Zip(saved), pair => Assert.Equal(pair.First.Values, pair.Second.Values));
        }
    }

    [Fact]
    public void Train_status_describes_the_rounds_each_replica_and_the_last_round_s_traffic()
    {
        var status = new DiLoCoStatus(1, 3, 5, false,
            [new DiLoCoReplicaProgress(0, 3, 2, DateTimeOffset.UnixEpoch, false, false), new DiLoCoReplicaProgress(1, 2, 0, DateTimeOffset.UnixEpoch, true, false)],
            [new DiLoCoRoundRecord(2, [0, 1], [1, 1], [0, 1], 3 * 1048576, 0.25, 3.5)], null);

        var lines = Platform.Silo.Cli.TrainClusterCommands.DescribeRounds(status).Split(Environment.NewLine);

        Assert.Equal(
        [
            "  rounds: 3 of 5",
            "  replica 0: round 3, local step 2",
            "  replica 1: round 2, local step 0, dropped",
            "  last round 2: replicas 0,1, 3.00 MiB up, 0.25 s at the barrier, mean loss 3.5000",
        ], lines);
    }

    [Theory]
    [InlineData(0, 2, 4, 0.7, 0.9, "fp32", 1, "Trainers must be at least 1")]
    [InlineData(2, 0, 4, 0.7, 0.9, "fp32", 2, "SyncEvery must be at least 1")]
    [InlineData(2, 2, 4, -1, 0.9, "fp32", 2, "OuterLearningRate must be positive")]
    [InlineData(2, 2, 4, 0.7, 1.0, "fp32", 2, "OuterMomentum must be in [0, 1)")]
    [InlineData(2, 2, 4, 0.7, 0.9, "fp16", 2, "SyncPrecision 'fp16' must be fp32 or bf16")]
    [InlineData(2, 3, 4, 0.7, 0.9, "fp32", 2, "must be a multiple of SyncEvery")]
    [InlineData(2, 2, 4, 0.7, 0.9, "fp32", 3, "takes one device per trainer")]
    public void Bad_DiLoCo_settings_are_refused_naming_the_problem(int trainers, int syncEvery, int steps, double outerLr, double outerMomentum, string precision, int devices, string message)
    {
        var spec = new TrainingRunSpec
        {
            RunId = "run", Dataset = "pairs", Steps = steps, Trainers = trainers, SyncEvery = syncEvery, OuterLearningRate = outerLr,
            OuterMomentum = outerMomentum, SyncPrecision = precision, Devices = devices, Evaluations = [],
        };
        var problem = Assert.Single(TrainingSubmissions.ShapeProblems(spec));
        Assert.Equal("trainers", problem.Field);
        Assert.Contains(message, problem.Message);
    }

    [Fact]
    public void Good_DiLoCo_settings_pass_and_the_spec_defaults_equal_the_model_library_s()
    {
        var good = new TrainingRunSpec { RunId = "run", Dataset = "pairs", Steps = 8, Trainers = 2, Devices = 2, SyncEvery = 4, SyncPrecision = "bf16", Evaluations = [] };
        Assert.Empty(TrainingSubmissions.ShapeProblems(good));
        // A blob container takes a multi-trainer run's checkpoints; its rounds are exchanged under the cluster's checkpoint root.
        Assert.Empty(TrainingSubmissions.ShapeProblems(good with { CheckpointLocation = "http://127.0.0.1:10000/devstoreaccount1/checkpoints/run" }));
        Assert.Equal(new DiLoCoOptions(), TrainingSpecMapping.DiLoCo(new TrainingRunSpec { RunId = "run", Dataset = "pairs" }));
    }
}
