using Platform.Evaluation.Tests;
using Platform.Grains.Evaluation;
using Platform.Grains.Training;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Training;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>The run record on a real cluster: attempt fencing, the step history across resumes, checkpoint evaluation and retention.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class TrainingRunGrainTests(SharedClusterFixture shared) : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("training-run-");

    public void Dispose() => _work.Delete(recursive: true);

    private static string NewRunId() => "run-" + Guid.NewGuid().ToString("N")[..8];

    private static TrainingRunSpec Spec(string runId) => new() { RunId = runId, Dataset = "pairs", Steps = 10_000, Evaluations = [] };

    private static TrainingStepRecord Step(int step, int attempt) =>
        new(step, Loss: 10 - step / 1000.0, LearningRate: attempt, GradientNorm: 1, TokensPerSecond: 500, Mfu: 0.1,
            StepSeconds: 0.5, DataSeconds: 0.1, ForwardSeconds: 0.2, BackwardSeconds: 0.15, OptimizerSeconds: 0.05, FinishedAt: DateTimeOffset.UtcNow);

    private static TrainingStepRecord[] Steps(int from, int to, int attempt) =>
        [.. Enumerable.Range(from, to - from + 1).Select(step => Step(step, attempt))];

    private async Task<ITrainingRunGrain> RegisteredAsync(TrainingRunSpec spec)
    {
        var run = shared.Grains.GetGrain<ITrainingRunGrain>(spec.RunId);
        await run.Register(spec, Path.Combine(_work.FullName, spec.RunId));
        return run;
    }

    [Fact]
    public async Task Registering_the_same_spec_again_changes_nothing_and_a_different_spec_under_the_id_is_refused()
    {
        var spec = Spec(NewRunId());
        var run = await RegisteredAsync(spec);
        await run.Register(spec with { Evaluations = [.. spec.Evaluations!], TextDocuments = [.. spec.TextDocuments] }, Path.Combine(_work.FullName, spec.RunId));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => run.Register(spec with { Steps = 5 }, Path.Combine(_work.FullName, spec.RunId)));
        Assert.Contains("different spec", error.Message);
        var status = await run.GetStatus();
        Assert.Equal(10_000, status.Spec.Steps);
        // Registered directly, not submitted: the scheduler knows nothing of it, and the status says so instead of failing.
        Assert.Equal((TrainingRunPhase.Queued, "the scheduler has no record of this run"), (status.Run.Phase, status.Run.WaitingReason));
        Assert.Null(status.Eta);
    }

    [Fact]
    public async Task A_multi_trainer_run_s_rounds_before_the_first_report_are_round_zero_of_its_replicas_and_a_single_trainer_run_has_none()
    {
        var diloco = await RegisteredAsync(Spec(NewRunId()) with { Steps = 12, Trainers = 3, Devices = 3, SyncEvery = 4 });
        var single = await RegisteredAsync(Spec(NewRunId()));

        var status = await diloco.GetDiLoCoStatus();
        Assert.NotNull(status);
        Assert.Equal((0, 0, 3, false, DiLoCoStatus.NotReportedNote), (status.Attempt, status.Round, status.Rounds, status.Finished, status.Note));
        Assert.Equal([0, 1, 2], status.Replicas.Select(r => r.Rank));
        Assert.All(status.Replicas, r => Assert.Equal((0, 0, false), (r.Round, r.LocalStep, r.Dropped)));
        Assert.Empty(status.History);
        Assert.Null(await single.GetDiLoCoStatus());
    }

    [Fact]
    public void The_eta_is_the_steps_left_at_the_current_attempt_s_recent_rate()
    {
        var start = DateTimeOffset.UnixEpoch;
        TrainingStepRecord At(int step, double seconds) => Step(step, attempt: 1) with { FinishedAt = start.AddSeconds(seconds) };
        // Steps 1-7 at 1 step/s by an earlier attempt, then the current one, resumed from step 7, at 2 steps/s.
        TrainingStepRecord[] history = [.. Enumerable.Range(1, 7).Select(s => At(s, s)), .. Enumerable.Range(8, 13).Select(s => At(s, 100 + (s - 8) / 2.0))];

        Assert.Equal(TimeSpan.FromSeconds((100 - 20) / 2.0), TrainingRunGrain.Eta(history, attemptFromStep: 7, steps: 100));
        Assert.Null(TrainingRunGrain.Eta(history, attemptFromStep: 19, steps: 100));
        Assert.Equal(TimeSpan.Zero, TrainingRunGrain.Eta(history, attemptFromStep: 7, steps: 20));
    }

    [Fact]
    public async Task Reports_of_an_attempt_older_than_the_newest_started_are_refused_and_change_nothing()
    {
        var run = await RegisteredAsync(Spec(NewRunId()));
        Assert.True(await run.AttemptStarted(1, 0, "silo-a"));
        Assert.True(await run.ReportSteps(1, Steps(1, 4, attempt: 1)));

        Assert.True(await run.AttemptStarted(2, 0, "silo-b"));
        Assert.False(await run.ReportSteps(1, Steps(5, 6, attempt: 1)));
        Assert.False(await run.ReportCheckpoint(1, 6, Path.Combine(_work.FullName, "stale")));
        Assert.False(await run.AttemptStarted(1, 4, "silo-a"));
        Assert.True(await run.ReportSteps(2, Steps(1, 2, attempt: 2)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => run.ReportSteps(3, Steps(3, 3, attempt: 3)));

        var status = await run.GetStatus();
        Assert.Equal("silo-b", status.Worker);
        Assert.Equal([1, 2], status.History.Select(s => s.Step));
        Assert.All(status.History, s => Assert.Equal(2, s.LearningRate));
        Assert.Empty(status.Checkpoints);
    }

    [Fact]
    public async Task A_resumed_attempt_redoes_the_steps_after_its_checkpoint_and_the_history_has_each_step_once_none_skipped()
    {
        var spec = Spec(NewRunId());
        var run = await RegisteredAsync(spec);
        string checkpoint = Path.Combine(_work.FullName, spec.RunId, Checkpoint.FolderName(5));
        Assert.True(await run.AttemptStarted(1, 0, "silo-a"));
        Assert.True(await run.ReportSteps(1, Steps(1, 5, attempt: 1)));
        Assert.True(await run.ReportCheckpoint(1, 5, checkpoint));
        Assert.True(await run.ReportSteps(1, Steps(6, 8, attempt: 1)));
        Assert.True(await run.ReportSteps(1, Steps(7, 9, attempt: 1))); // a retried batch: steps 7 and 8 arrive twice

        // The silo running attempt 1 is lost after step 9; attempt 2 resumes from the checkpoint of step 5.
        Assert.True(await run.AttemptStarted(2, 5, "silo-b"));
        Assert.Equal([1, 2, 3, 4, 5], (await run.GetStatus()).History.Select(s => s.Step));
        Assert.True(await run.ReportSteps(2, Steps(6, 12, attempt: 2)));

        var status = await run.GetStatus();
        Assert.Equal(Enumerable.Range(1, 12), status.History.Select(s => s.Step));
        Assert.Equal(Enumerable.Repeat(1.0, 5).Concat(Enumerable.Repeat(2.0, 7)), status.History.Select(s => s.LearningRate));
        Assert.Equal(12, status.Latest!.Step);
        Assert.Equal([5], status.Checkpoints.Select(c => c.Step));
        Assert.Equal(checkpoint, status.Checkpoints[0].Folder);
    }

    [Fact]
    public async Task A_run_record_collected_and_activated_again_has_its_attempt_history_and_checkpoints()
    {
        var spec = Spec(NewRunId());
        var run = await RegisteredAsync(spec);
        string checkpoint = Path.Combine(_work.FullName, spec.RunId, Checkpoint.FolderName(4));
        Assert.True(await run.AttemptStarted(3, 0, "silo-a"));
        Assert.True(await run.ReportSteps(3, Steps(1, 2, attempt: 3)));
        Assert.True(await run.ReportSteps(3, Steps(3, 4, attempt: 3)));
        Assert.True(await run.ReportCheckpoint(3, 4, checkpoint));
        Assert.True(await run.ReportSteps(3, Steps(5, 6, attempt: 3))); // within the write interval: written when the record is collected
        var before = await run.GetStatus();

        var management = shared.Grains.GetGrain<Orleans.Runtime.IManagementGrain>(0);
        async Task<bool> Active() =>
            (await management.GetDetailedGrainStatistics(null, null, TestContext.Current.CancellationToken)).Any(g => g.GrainId.Key.ToString() == spec.RunId);
        Assert.True(await Active());
        await management.ForceActivationCollection(TimeSpan.Zero, cancellationToken: TestContext.Current.CancellationToken);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await Active())
        {
            Assert.True(DateTime.UtcNow < deadline, "the run record was not collected");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        var after = await run.GetStatus();
        Assert.Equal(before.History, after.History);
        Assert.Equal(Enumerable.Range(1, 6), after.History.Select(s => s.Step));
        Assert.Equal(before.Checkpoints, after.Checkpoints);
        Assert.Equal(("silo-a", spec.Steps), (after.Worker, after.Spec.Steps));
        Assert.False(await run.AttemptStarted(2, 0, "silo-b"));
        Assert.False(await run.ReportSteps(2, Steps(7, 7, attempt: 2)));
    }

    [Fact]
    public async Task The_history_of_a_long_run_stays_bounded_with_every_recent_step()
    {
        var run = await RegisteredAsync(Spec(NewRunId()));
        var options = new TrainingClusterOptions();
        Assert.True(await run.AttemptStarted(1, 0, "silo-a"));
        const int steps = 4000;
        for (int first = 1; first <= steps; first += 40)
            Assert.True(await run.ReportSteps(1, Steps(first, first + 39, attempt: 1)));

        var history = (await run.GetStatus()).History.Select(s => s.Step).ToArray();
        Assert.InRange(history.Length, options.HistoryRecentSteps, options.HistoryRecentSteps + options.HistoryOlderPoints);
        Assert.Equal(1, history[0]);
        Assert.Equal(Enumerable.Range(steps - options.HistoryRecentSteps + 1, options.HistoryRecentSteps), history.TakeLast(options.HistoryRecentSteps));
        Assert.Equal(history.Order().Distinct(), history);
    }

    [Fact]
    public async Task A_long_run_keeps_only_the_newest_deleted_checkpoints_records_so_its_state_does_not_grow_with_every_checkpoint()
    {
        const int Checkpoints = 60;
        var spec = Spec(NewRunId()) with { Steps = Checkpoints, Retention = new CheckpointRetentionPolicy { KeepLast = 1 } };
        string location = Path.Combine(_work.FullName, spec.RunId);
        var run = await RegisteredAsync(spec);
        Assert.True(await run.AttemptStarted(1, 0, "silo-a"));
        for (int step = 1; step <= Checkpoints; step++)
        {
            Assert.True(await run.ReportSteps(1, Steps(step, step, attempt: 1)));
            Assert.True(await run.ReportCheckpoint(1, step, Directory.CreateDirectory(Path.Combine(location, $"step-{step}")).FullName));
        }

        var status = await run.GetStatus();
        Assert.Equal(Enumerable.Range(Checkpoints - TrainingRunGrain.DeletedCheckpointsKept, TrainingRunGrain.DeletedCheckpointsKept),
            status.Checkpoints.Where(c => c.Deleted).Select(c => c.Step));
        Assert.Equal([Checkpoints], status.Checkpoints.Where(c => !c.Deleted).Select(c => c.Step));
    }

    [Fact]
    public async Task Every_checkpoint_is_evaluated_once_and_ranked_with_run_and_step_and_retention_deletes_only_evaluated_older_unkept_ones()
    {
        var cancellation = TestContext.Current.CancellationToken;
        string data = Path.Combine(_work.FullName, "data");
        BenchmarkGenerator.Generate(data, TinyBenchmarkModel.Benchmark(), cancellation);
        var spec = Spec(NewRunId()) with
        {
            Steps = 4,
            // This cluster's silos offer no devices to lend: the record's hand-off is what is tested here.
            Evaluations = [new RunEvaluation("coco-captions", data, Prompt: "", MaxImages: 3, Device: RunEvaluation.OnCpu)],
            Retention = new CheckpointRetentionPolicy { KeepLast = 1, KeepEvery = 2 },
        };
        string location = Path.Combine(_work.FullName, spec.RunId);
        var run = await RegisteredAsync(spec);
        Assert.True(await run.AttemptStarted(1, 0, "silo-a"));
        var folders = new Dictionary<int, string>();
        for (int step = 1; step <= 4; step++)
        {
            folders[step] = TinyBenchmarkModel.Checkpoint(data, location, step);
            Assert.True(await run.ReportSteps(1, Steps(step, step, attempt: 1)));
            Assert.True(await run.ReportCheckpoint(1, step, folders[step]));
            Assert.True(await run.ReportCheckpoint(1, step, folders[step])); // a retried report starts nothing more
        }

        // Steps 1 and 3 go once evaluated; 2 is a multiple of KeepEvery, 4 the newest and the latest.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(6);
        TrainingRunStatus status;
        while (true)
        {
            status = await run.GetStatus();
            var phases = status.Evaluations.ToDictionary(e => e.Step, e => e.Phase);
            foreach (var deleted in status.Checkpoints.Where(c => c.Deleted))
                Assert.True(phases[deleted.Step] == EvaluationPhase.Completed, $"checkpoint {deleted.Step} was deleted while its evaluation was {phases[deleted.Step]}");
            if (status.Evaluations.All(e => e.Phase is EvaluationPhase.Completed or EvaluationPhase.Failed) && status.Checkpoints.Count(c => c.Deleted) == 2) break;
            Assert.True(DateTime.UtcNow < deadline, $"after 6 minutes: {string.Join(", ", status.Evaluations)}; {string.Join(", ", status.Checkpoints)}");
            await Task.Delay(500, cancellation);
        }

        Assert.Equal([1, 2, 3, 4], status.Evaluations.Select(e => e.Step));
        Assert.All(status.Evaluations, e => Assert.True(e.Phase == EvaluationPhase.Completed && e.PrimaryMetric == "CIDEr" && e.PrimaryScore is not null, e.Error));
        Assert.Equal([1, 3], status.Checkpoints.Where(c => c.Deleted).Select(c => c.Step));
        Assert.Equal([false, true, false, true], folders.OrderBy(f => f.Key).Select(f => Directory.Exists(f.Value)));

        var leaderboard = shared.Grains.GetGrain<ILeaderboardGrain>("coco-captions");
        foreach (var (step, folder) in folders)
        {
            var evaluation = await shared.Grains.GetGrain<IEvaluationGrain>(EvaluationKey.For(folder, Model.Evaluation.EvaluationTask.CocoCaptions)).GetStatus();
            Assert.Equal(1, evaluation.Runs);
            var entry = await leaderboard.Get(EvaluationKey.Parse(EvaluationKey.For(folder, Model.Evaluation.EvaluationTask.CocoCaptions)).Checkpoint);
            Assert.NotNull(entry);
            Assert.Equal((spec.RunId, (long)step), (entry.RunId, entry.Step));
        }
    }
}
