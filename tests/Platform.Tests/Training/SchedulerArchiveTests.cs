using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using Platform.Grains;
using Platform.Grains.Ingestion;
using Platform.Grains.Training;
using Platform.Grains.Work;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>
/// Finished training runs leave the scheduler's state for its archive, on Azurite's real table storage: the state stays small however
/// many runs finished, the listing and the run lookups still find them, a finished run's id is never taken again, and a state stored
/// before the archive existed (finished runs among its rows, indices their positions) still loads.
/// </summary>
public sealed class SchedulerArchiveTests(AzuriteFixture azurite)
{
    /// <summary>Far below Azure Table's 1 MB entity limit: what the scheduler's stored state may take with no run active.</summary>
    private const int MaxStateBytes = 64 << 10;

    private const string StateName = "trainingscheduler";

    /// <summary>No silo of a test cluster offers a CUDA device: the run waits in the queue until it is cancelled.</summary>
    private static TrainingRunSpec Waiting(string runId) => new()
    {
        RunId = runId, Dataset = "archive-test", Steps = 10, DeviceKind = "cuda", Evaluations = [], CheckpointLocation = Path.Combine(Path.GetTempPath(), "archive-test", runId),
    };

    private static TrainingRunSummary Finished(int n, DateTimeOffset at) =>
        new($"seeded-{n:D5}", TrainingRunPhase.Completed, 0, n + 1, 1, "cpu", [], null, 1, 10, 10, null, at, at, at.AddMinutes(n));

    private static (IGrainStorage Storage, IGrainStorageSerializer Serializer, GrainId Scheduler) Storage(InProcessTestCluster cluster)
    {
        var services = cluster.Silos[0].SiloHost.Services;
        return (services.GetRequiredKeyedService<IGrainStorage>(PlatformStorage.GrainStateProvider), services.GetRequiredService<IGrainStorageSerializer>(),
            cluster.Client.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key).GetGrainId());
    }

    [Fact]
    public async Task Twenty_thousand_finished_runs_keep_the_stored_state_under_64_KB_and_the_listing_shows_the_newest_after_the_active_ones()
    {
        const int Seeded = 20_000;
        await using var cluster = await PlatformTestCluster.StartAsync(azurite.Connection, "archive-" + Guid.NewGuid().ToString("N")[..8], silos: 1);
        var (storage, serializer, schedulerId) = Storage(cluster);
        // Seeded as the scheduler archives (each finished run a page row and a keyed row), before the scheduler's first activation.
        var head = new RowArchiveHead();
        var archive = new RowArchive<TrainingRunSummary>(storage, schedulerId, "trainingscheduler-finished", head, TrainingSchedulerGrain.FinishedRunsPerPage, r => r.RunId);
        var epoch = DateTimeOffset.UtcNow.AddDays(-30);
        foreach (var batch in Enumerable.Range(0, Seeded).Chunk(5_000)) await archive.AppendAsync([.. batch.Select(n => Finished(n, epoch))]);
        await storage.WriteStateAsync(StateName, schedulerId, new GrainState<TrainingSchedulerState>(new TrainingSchedulerState { Submissions = Seeded, FinishedRuns = head }));

        // Through the grain API: three runs wait, two are cancelled (and so archived), one stays queued.
        var scheduler = cluster.Client.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        foreach (var run in new[] { "waits", "cancelled-1", "cancelled-2" }) Assert.Equal(TrainingRunPhase.Queued, (await scheduler.Submit(Waiting(run))).Phase);
        await scheduler.Cancel("cancelled-1");
        await scheduler.Cancel("cancelled-2");

        var stored = new GrainState<TrainingSchedulerState>(new TrainingSchedulerState());
        await storage.ReadStateAsync(StateName, schedulerId, stored);
        var bytes = serializer.Serialize(stored.State).ToMemory().Length;
        Assert.True(bytes < MaxStateBytes, $"the scheduler's stored state takes {bytes} bytes");
        Assert.Equal(["waits"], stored.State!.Runs.Select(r => r.RunId));
        Assert.Equal(Seeded + 2, stored.State!.FinishedRuns.Count);

        var listed = await scheduler.List(finishedRuns: 4);
        Assert.Equal(["waits", "cancelled-2", "cancelled-1", "seeded-19999", "seeded-19998"], listed.Select(r => r.RunId));
        Assert.Equal([TrainingRunPhase.Queued, TrainingRunPhase.Cancelled, TrainingRunPhase.Cancelled, TrainingRunPhase.Completed, TrainingRunPhase.Completed],
            listed.Select(r => r.Phase));
        Assert.Equal(1 + ITrainingSchedulerGrain.ListedFinishedRuns, (await scheduler.List()).Count);
        // Reading across a page boundary: the newest 150 are the last one and a half pages.
        Assert.Equal(Enumerable.Range(0, 148).Select(i => $"seeded-{19_999 - i:D5}"), (await scheduler.List(finishedRuns: 150)).Skip(3).Select(r => r.RunId));

        // Each finished run is still found, and its id is never queued again.
        Assert.Equal(TrainingRunPhase.Completed, (await scheduler.Get("seeded-00000"))!.Phase);
        Assert.Equal(TrainingRunPhase.Cancelled, (await scheduler.Get("cancelled-1"))!.Phase);
        Assert.Equal(TrainingRunPhase.Cancelled, (await scheduler.Submit(Waiting("cancelled-1"))).Phase);
        Assert.Equal(TrainingRunPhase.Completed, (await scheduler.Submit(Waiting("seeded-12345"))).Phase);
        Assert.Equal(TrainingRunPhase.Completed, (await scheduler.Resume("seeded-12345")).Phase);
        Assert.Null(await scheduler.Get("never-submitted"));
        Assert.Equal(["waits"], (await scheduler.List(finishedRuns: 0)).Select(r => r.RunId));
        await scheduler.Cancel("waits");
    }

    [Fact]
    public async Task A_state_stored_before_the_archive_loads_its_finished_rows_move_to_the_archive_and_its_open_runs_are_still_addressed_by_their_index()
    {
        await using var cluster = await PlatformTestCluster.StartAsync(azurite.Connection, "archive-old-" + Guid.NewGuid().ToString("N")[..8], silos: 1);
        var (storage, _, schedulerId) = Storage(cluster);
        var at = DateTimeOffset.UtcNow.AddHours(-1);
        TrainingRunRecord Row(int index, string runId, TrainingRunPhase phase, WorkUnitState work, int finishedMinute) => new()
        {
            Index = index, State = work, Attempt = work == WorkUnitState.Pending ? 0 : 1, Spec = Waiting(runId), Phase = phase, SubmissionOrder = index + 1,
            CheckpointLocation = Waiting(runId).CheckpointLocation!, SubmittedAt = at,
            FinishedAt = phase is TrainingRunPhase.Completed or TrainingRunPhase.Failed or TrainingRunPhase.Cancelled ? at.AddMinutes(finishedMinute) : null,
        };
        // As the scheduler stored it before finished runs left its state: every run ever submitted, its index its position, no archive head.
        var old = new TrainingSchedulerState
        {
            Runs =
            [
                Row(0, "old-completed", TrainingRunPhase.Completed, WorkUnitState.Done, 3),
                Row(1, "old-failed", TrainingRunPhase.Failed, WorkUnitState.Failed, 1),
                Row(2, "old-paused", TrainingRunPhase.Paused, WorkUnitState.Done, 0),
                Row(3, "old-cancelled", TrainingRunPhase.Cancelled, WorkUnitState.Failed, 2),
                Row(4, "old-queued", TrainingRunPhase.Queued, WorkUnitState.Pending, 0),
            ],
            Submissions = 5,
            FinishedRuns = null!,
        };
        await storage.WriteStateAsync(StateName, schedulerId, new GrainState<TrainingSchedulerState>(old));

        var scheduler = cluster.Client.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        var listed = (await scheduler.List()).Select(r => r.RunId).ToList();
        Assert.Equal(["old-paused", "old-queued"], listed.Take(2).Order());
        Assert.Equal(["old-completed", "old-cancelled", "old-failed"], listed.Skip(2));
        var stored = new GrainState<TrainingSchedulerState>(new TrainingSchedulerState());
        await storage.ReadStateAsync(StateName, schedulerId, stored);
        Assert.Equal([("old-paused", 2), ("old-queued", 4)], stored.State!.Runs.Select(r => (r.RunId, r.Index)));
        Assert.Equal(3, stored.State!.FinishedRuns.Count);

        // The paused run sits at position 0 now: resuming and cancelling it by id reaches it, not the queued run at its old position.
        Assert.Equal(TrainingRunPhase.Queued, (await scheduler.Resume("old-paused")).Phase);
        Assert.Equal(TrainingRunPhase.Queued, (await scheduler.Get("old-queued"))!.Phase);
        // A new run takes the next index, never one an old row had.
        await scheduler.Submit(Waiting("new-run"));
        await storage.ReadStateAsync(StateName, schedulerId, stored);
        Assert.Equal([("old-paused", 2), ("old-queued", 4), ("new-run", 5)], stored.State!.Runs.Select(r => (r.RunId, r.Index)));
        foreach (var run in new[] { "old-paused", "old-queued", "new-run" }) await scheduler.Cancel(run);
        Assert.Equal(["new-run", "old-queued", "old-paused", "old-completed"], (await scheduler.List(finishedRuns: 4)).Select(r => r.RunId));
        Assert.Equal(TrainingRunPhase.Failed, (await scheduler.Get("old-failed"))!.Phase);
    }
}
