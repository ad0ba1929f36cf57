using Microsoft.Extensions.DependencyInjection;
using Platform.Benchmarks;
using Platform.Datasets;
using Platform.Evaluation.Tests;
using Platform.Grains.Devices;
using Platform.Grains.Evaluation;
using Platform.Grains.Training;
using Platform.Model.Devices;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Training;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>
/// A scheduled run whose checkpoint location is a blob container: its checkpoints and "latest" land in the container, a
/// pause and resume continues from the blob checkpoint (on whichever silo gets the device) with the weights of the same run
/// trained uninterrupted, and each checkpoint's evaluation reaches the leaderboard under the step folder's URL.
/// </summary>
[Collection(ExactWeightsCollection.Name)]
public sealed class BlobCheckpointRunTests(AzuriteFixture azurite) : IDisposable
{
    private const int Steps = 30;
    private const int CheckpointEvery = 10;

    private readonly string root = Directory.CreateTempSubdirectory("blob-checkpoint-run-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task A_paused_and_resumed_run_checkpointing_to_a_blob_container_ends_with_the_uninterrupted_weights_and_its_evaluations_on_the_leaderboard()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await PlatformTestCluster.StartAsync(azurite.Connection, $"blobckpt-{Guid.NewGuid().ToString("N")[..8]}", silos: 2,
            devices: _ => [DeviceDetection.CpuSlot(0)],
            configure: (_, silo) => silo.Services.AddPlatformTraining(o =>
            {
                o.CheckpointRoot = Path.Combine(root, "checkpoints");
                o.CheckInterval = TimeSpan.FromMilliseconds(250);
            }));
        var grains = cluster.Client;
        var account = azurite.Connection.CreateBlobClient();
        var dataset = $"blobckpt-{Guid.NewGuid():N}"[..14];
        await TrainingDatasetGenerator.CommitAsync(grains, dataset, await TrainingDatasetGenerator.WriteAsync(Path.Combine(root, "dataset"), shards: 2, samplesPerShard: 8, seed: 5, ct));
        var benchmark = Path.Combine(root, "benchmark");
        BenchmarkGenerator.Generate(benchmark, TinyBenchmarkModel.Benchmark(), ct);
        var runId = "blob-" + Guid.NewGuid().ToString("N")[..8];
        var location = $"{account.Uri.ToString().TrimEnd('/')}/ckpt-{Guid.NewGuid():N}/runs/{runId}";
        var spec = new TrainingRunSpec
        {
            RunId = runId,
            Dataset = dataset,
            Preset = "tiny",
            Steps = Steps,
            SamplesPerStep = 4,
            WarmupSteps = 5,
            Threads = 1,
            ShuffleBuffer = 16,
            CheckpointEvery = CheckpointEvery,
            DeviceKind = "cpu",
            CheckpointLocation = location,
            Evaluations = [new RunEvaluation("coco-captions", benchmark, Prompt: "", MaxImages: 2)],
        };
        var scheduler = grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        var record = grains.GetGrain<ITrainingRunGrain>(runId);
        await scheduler.Submit(spec);

        await TrainingKillTests.WaitUntilAsync(async () => (await record.GetStatus()) is { Checkpoints.Count: > 0, Latest.Step: > CheckpointEvery }, "a checkpoint and a step past it", TimeSpan.FromMinutes(4));
        await scheduler.Pause(runId);
        await TrainingKillTests.WaitUntilAsync(async () => (await scheduler.Get(runId))!.Phase == TrainingRunPhase.Paused, "the pause", TimeSpan.FromMinutes(2));
        // The pause's own checkpoint: the scheduler's step comes with the trainer's heartbeats and may still lag (a CI run read 0).
        var pausedAt = (await record.GetStatus()).Checkpoints.Max(c => c.Step);
        await scheduler.Resume(runId);
        await TrainingKillTests.WaitUntilAsync(async () => (await scheduler.Get(runId))!.IsFinished, "the run's end", TimeSpan.FromMinutes(5));

        var run = (await scheduler.Get(runId))!;
        Assert.Equal((TrainingRunPhase.Completed, Steps, 2), (run.Phase, run.Step, run.Attempt));
        Assert.Equal(location, (await record.GetStatus()).CheckpointLocation);
        var store = BlobCheckpointStore.Open(location, account);
        Assert.Equal(Steps, await store.LatestStepAsync(ct));
        Assert.Equal(new[] { 10, 20, 30, pausedAt }.Distinct().Order(), await store.StepsAsync(ct));
        var status = await record.GetStatus();
        Assert.Equal(Enumerable.Range(1, Steps), status.History.Select(s => s.Step));
        Assert.All(status.Checkpoints, c => Assert.Equal(store.FolderUrl(c.Step), c.Folder));

        // The evaluations load checkpoints into new models, whose initialisation draws from libtorch's process-wide
        // generator: the uninterrupted run below, seeded in this process, must not train while they do.
        await TrainingKillTests.WaitUntilAsync(async () => (await record.GetStatus()).Evaluations.All(e => e.Phase is EvaluationPhase.Completed or EvaluationPhase.Failed),
            "every evaluation's end", TimeSpan.FromMinutes(5));

        // Exact resume from the blob checkpoint: the final checkpoint equals the uninterrupted run's, parameter by parameter.
        var final = await BlobCheckpointStore.DownloadFolderAsync(store.FolderUrl(Steps), account, Path.Combine(root, "downloaded"), ct);
        var uninterrupted = Path.Combine(root, "uninterrupted");
        var manifests = cluster.Silos[0].ServiceProvider.GetRequiredService<DatasetManifestStore>();
        var shards = (await manifests.ReadAsync(dataset, ct)).Entries.Select(manifests.Resolve).ToList();
        using (var trainer = TrainingRun.Create(TrainingSpecMapping.Request(spec, shards, uninterrupted, new DeviceAddress("this-process", "cpu:0"))))
            await foreach (var _ in trainer.RunAsync(cancellationToken: ct)) { }
        var difference = CheckpointWeights.MaxDifference(final, uninterrupted);
        Assert.True(difference <= 1e-5, $"the resumed run's weights differ from the uninterrupted run's by up to {difference}");

        // Every checkpoint is evaluated from the container and its score is on the leaderboard under its URL.
        status = await record.GetStatus();
        Assert.Equal(status.Checkpoints.Select(c => c.Step), status.Evaluations.Select(e => e.Step));
        Assert.All(status.Evaluations, e => Assert.True(e.Phase == EvaluationPhase.Completed && e.PrimaryScore is not null, e.Error));
        var leaderboard = grains.GetGrain<ILeaderboardGrain>("coco-captions");
        foreach (var checkpoint in status.Checkpoints)
        {
            var entry = await leaderboard.Get(checkpoint.Folder);
            Assert.NotNull(entry);
            Assert.Equal((runId, (long)checkpoint.Step), (entry.RunId, entry.Step));
        }
    }
}
