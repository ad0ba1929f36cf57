using System.Text.Json;
using Platform.Evaluation.Tests;
using Platform.Grains.Evaluation;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Benchmark;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

[Collection(SharedClusterCollection.Name)]
public sealed class EvaluationGrainTests(SharedClusterFixture shared, AzuriteFixture azurite) : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("eval-grain-");

    public void Dispose() => _work.Delete(recursive: true);

    private static async Task<EvaluationStatus> WaitWhileRunning(IEvaluationGrain grain)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        while (true)
        {
            var status = await grain.GetStatus();
            if (status.Phase != EvaluationPhase.Running) return status;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The evaluation still runs after 4 minutes.");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task A_trained_checkpoint_is_scored_in_the_background_stored_in_blobs_ranked_and_never_run_twice()
    {
        var data = Path.Combine(_work.FullName, "data");
        BenchmarkGenerator.Generate(data, TinyBenchmarkModel.Benchmark(), TestContext.Current.CancellationToken);
        var checkpoint = TinyBenchmarkModel.Checkpoint(data, Path.Combine(_work.FullName, "tiny-run"), steps: 3);
        var grain = shared.Grains.GetGrain<IEvaluationGrain>(EvaluationKey.For(checkpoint, EvaluationTask.CocoCaptions));
        var request = new EvaluationRequest { DataRoot = data, Prompt = "" };

        // Start returns while the evaluation runs (loading and decoding take seconds), and a second
        // request meanwhile joins it instead of starting another.
        var started = await grain.Start(request);
        Assert.Equal(EvaluationPhase.Running, started.Phase);
        Assert.Equal(1, (await grain.Start(request)).Runs);

        var done = await WaitWhileRunning(grain);
        Assert.True(done.Phase == EvaluationPhase.Completed, done.Error);
        Assert.Equal("CIDEr", done.PrimaryMetric);
        Assert.Equal(done.Scores["CIDEr"], done.PrimaryScore);
        Assert.Equal(3, done.Step);
        Assert.Equal("tiny-run", done.RunId);

        // Outputs in blob storage: scores.json agrees with the grain state, one caption per test image.
        var container = azurite.Connection.CreateBlobClient().GetBlobContainerClient(done.OutputContainer);
        var scoresBlob = done.OutputBlobs.Single(b => b.EndsWith("/scores.json", StringComparison.Ordinal));
        var scores = JsonDocument.Parse((await container.GetBlobClient(scoresBlob).DownloadContentAsync(TestContext.Current.CancellationToken)).Value.Content.ToString()).RootElement;
        Assert.Equal(done.Scores["CIDEr"], scores.GetProperty("scores").GetProperty("CIDEr").GetDouble());
        var captionsBlob = done.OutputBlobs.Single(b => b.EndsWith("/captions.json", StringComparison.Ordinal));
        var captions = JsonDocument.Parse((await container.GetBlobClient(captionsBlob).DownloadContentAsync(TestContext.Current.CancellationToken)).Value.Content.ToString()).RootElement;
        Assert.Equal(15, captions.GetArrayLength());

        // The leaderboard knows the checkpoint, its run and step.
        var entry = await shared.Grains.GetGrain<ILeaderboardGrain>("coco-captions").Get(EvaluationKey.Parse(grain.GetPrimaryKeyString()).Checkpoint);
        Assert.NotNull(entry);
        Assert.Equal(("tiny-run", 3L, done.Scores["CIDEr"]), (entry.RunId, entry.Step, entry.PrimaryScore));

        // Asked again: the stored result, not a new run.
        var again = await grain.Start(request);
        Assert.Equal((EvaluationPhase.Completed, 1, done.FinishedAt), (again.Phase, again.Runs, again.FinishedAt));
    }

    [Fact]
    public async Task A_failed_evaluation_reports_why_and_a_new_request_runs_it_again()
    {
        var data = Path.Combine(_work.FullName, "data");
        BenchmarkGenerator.Generate(data, TinyBenchmarkModel.Benchmark(), TestContext.Current.CancellationToken);
        var checkpoint = TinyBenchmarkModel.Checkpoint(data, Path.Combine(_work.FullName, "run"), steps: 0);
        var grain = shared.Grains.GetGrain<IEvaluationGrain>(EvaluationKey.For(checkpoint, EvaluationTask.Vqa));

        await grain.Start(new EvaluationRequest { DataRoot = Path.Combine(_work.FullName, "missing") });
        var failed = await WaitWhileRunning(grain);
        Assert.Equal(EvaluationPhase.Failed, failed.Phase);
        Assert.Contains("missing", failed.Error);

        await grain.Start(new EvaluationRequest { DataRoot = data });
        var done = await WaitWhileRunning(grain);
        Assert.True(done.Phase == EvaluationPhase.Completed, done.Error);
        Assert.Equal(2, done.Runs);
        Assert.InRange(done.Scores["overall"], 0, 100);
    }
}
