using System.Diagnostics;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Work;
using Platform.Model.Training;

namespace Platform.Grains.Training;

/// <summary>
/// Test seam, injected through DI: lets a test make a trainer hang. The silo's default (<see cref="NoTrainerFaults"/>)
/// does nothing; a test cluster registers its own.
/// </summary>
public interface ITrainerFaults
{
    /// <summary>
    /// The step after which the attempt stops training but goes on heartbeating that same step, as a trainer stuck in a
    /// read would, until the scheduler takes its lease; null: it trains normally.
    /// </summary>
    int? HangAfterStep(TrainerAssignment assignment);
}

public sealed class NoTrainerFaults : ITrainerFaults
{
    public int? HangAfterStep(TrainerAssignment assignment) => null;
}

/// <summary>
/// Trainers hold no ingest work slot: the scheduler gives each device to one trainer at a time, and a trainer waiting
/// behind ingest work would hold its devices idle.
/// </summary>
public sealed class TrainerSlots : IWorkSlots
{
    public static readonly TrainerSlots Unlimited = new();

    public Task WaitAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Release()
    {
    }
}

/// <summary>
/// One attempt of one run on the silo owning its first device: reads the dataset's committed shards, starts or resumes the
/// run in its checkpoint folder, runs the Model library's loop (on its own thread), forwards steps in batches and each
/// checkpoint after the steps before it to the run's <see cref="ITrainingRunGrain"/>, and heartbeats the last step to the
/// scheduler (null before the first, so loading does not count as a stall). <see cref="Stop"/> ends the loop after its
/// current step with a checkpoint.
/// </summary>
[DevicePlacement]
public sealed class TrainerGrain(DatasetManifestStore manifests, BlobServiceClient blobs, ITrainerFaults faults,
    ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<TrainerGrain> logger) : LeasedWorkerGrain<TrainerAssignment>(TrainerSlots.Unlimited, silo, lifetime, logger), ITrainerGrain
{
    /// <summary>Steps are sent at most this often, or when this many wait, so a fast tiny model does not flood the run grain.</summary>
    private static readonly TimeSpan ReportInterval = TimeSpan.FromMilliseconds(500);
    private const int ReportBatch = 20;

    private readonly CancellationTokenSource stopRequested = new();
    private TaskScheduler activationScheduler = TaskScheduler.Default;
    private bool started;
    private int lastStep = -1;
    /// <summary>
    /// The training loop of this attempt, whose step count is the progress heartbeats carry: the loop reads its metrics (and so
    /// reports steps) only every few steps, and a stall clock fed by the reports alone would take a slow window for a stuck trainer.
    /// </summary>
    private SimVlmTrainer? training;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Nothing calls a trainer while it trains, and idle collection would lose the activation that Stop must reach.
        DelayDeactivation(Timeout.InfiniteTimeSpan);
        activationScheduler = TaskScheduler.Current;
        return Task.CompletedTask;
    }

    public new Task Start(TrainerAssignment assignment)
    {
        started = true;
        return base.Start(assignment);
    }

    public Task Stop()
    {
        stopRequested.Cancel();
        if (!started) DeactivateOnIdle();
        return Task.CompletedTask;
    }

    protected override async Task RunAsync(IGrainFactory grains, TrainerAssignment a)
    {
        var run = $"run {a.Spec.RunId} attempt {a.Attempt}";
        try
        {
            Func<long?> step = () => Math.Max(Volatile.Read(ref lastStep), Volatile.Read(ref training)?.Step ?? -1) is var s and >= 0 ? s : null;
            await LeasedWorkRunner.RunAsync(
                new LeasedWork(grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key), a.Item, a.Attempt, a.LeaseTimeout, $"Trainer of {run}"),
                Worker, TrainerSlots.Unlimited, stop => TrainAsync(grains, a, stop), step, Logger, SiloStopping);
        }
        finally
        {
            try { await Task.Factory.StartNew(DeactivateOnIdle, CancellationToken.None, TaskCreationOptions.None, activationScheduler); }
            catch (Exception error) { Logger.LogDebug(error, "The trainer of {Run} could not ask to be collected", run); }
        }
    }

    private async Task<WorkReport> TrainAsync(IGrainFactory grains, TrainerAssignment a, CancellationToken lease)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(lease, stopRequested.Token);
        var record = grains.GetGrain<ITrainingRunGrain>(a.Spec.RunId);
        var shards = await CommittedShardsAsync(a.Spec.Dataset, lease);
        if (a.Spec.Trainers > 1)
            return await DiLoCoDriver.RunAsync(grains, a, shards, Worker, step => Volatile.Write(ref lastStep, step), Logger, stopping.Token);
        // Not the folder's newest checkpoint, which a lost attempt may have saved after its last report (on its way out),
        // but the newest the run's record accepted: every step up to it is in the history, so none goes missing there.
        var accepted = (await record.GetStatus()).Checkpoints.Where(c => !c.Deleted).Select(c => c.Step).DefaultIfEmpty(0).Max();
        // A blob location is trained into a folder of this attempt on this silo, seeded with the accepted checkpoint and
        // mirrored to the container after each save; the record then names the checkpoint by its URL.
        var blobStore = BlobCheckpointStore.IsBlobLocation(a.CheckpointLocation) ? BlobCheckpointStore.Open(a.CheckpointLocation, blobs) : null;
        string folder = a.CheckpointLocation;
        if (blobStore is null) Checkpoint.DiscardAfter(folder, accepted);
        else
        {
            folder = WorkingFolder(a);
            await blobStore.DiscardAfterAsync(accepted, lease);
            await blobStore.DownloadAsync(accepted, folder, lease);
        }
        try
        {
            return await TrainInFolderAsync(record, a, shards, folder, blobStore, stopping, lease);
        }
        finally
        {
            if (blobStore is not null) TryDelete(folder);
        }
    }

    private async Task<WorkReport> TrainInFolderAsync(ITrainingRunGrain record, TrainerAssignment a, IReadOnlyList<DatasetShard> shards, string folder,
        BlobCheckpointStore? blobStore, CancellationTokenSource stopping, CancellationToken lease)
    {
        using var trainer = TrainingRun.CreateOrResume(TrainingSpecMapping.Request(a.Spec, shards, folder, a.Devices[0]));
        Volatile.Write(ref training, trainer);
        foreach (var skipped in trainer.SkippedCheckpoints)
            Logger.LogWarning("Run {Run} attempt {Attempt}: skipped a checkpoint that cannot be loaded, resuming from an older one: {Skipped}", a.Spec.RunId, a.Attempt, skipped);
        if (!await record.AttemptStarted(a.Attempt, trainer.Step, Worker))
            return new TrainerReport(trainer.Step, Stopped: true);
        Logger.LogInformation("Trainer of run {Run} attempt {Attempt} on {Device} from step {Step}", a.Spec.RunId, a.Attempt, a.Devices[0], trainer.Step);

        var hangAfter = faults.HangAfterStep(a);
        var pending = new List<TrainingStepRecord>();
        var sinceReport = Stopwatch.StartNew();
        var superseded = false;
        TrainingFinished? finished = null;
        async Task ReportStepsAsync()
        {
            if (pending.Count > 0 && !superseded && !await record.ReportSteps(a.Attempt, [.. pending])) Supersede();
            pending.Clear();
            sinceReport.Restart();
        }
        void Supersede()
        {
            superseded = true;
            stopping.Cancel();
        }

        await using var events = trainer.RunAsync(hangAfter, stopping.Token).GetAsyncEnumerator(CancellationToken.None);
        try
        {
            while (await events.MoveNextAsync())
            {
                switch (events.Current)
                {
                    case StepCompleted completed:
                        pending.Add(TrainingSpecMapping.Record(completed.Metrics, DateTimeOffset.UtcNow));
                        if (pending.Count >= ReportBatch || sinceReport.Elapsed >= ReportInterval) await ReportStepsAsync();
                        Volatile.Write(ref lastStep, completed.Metrics.Step);
                        break;
                    case CheckpointSaved checkpoint:
                        // The run's record takes a checkpoint once every step up to it is there.
                        await ReportStepsAsync();
                        if (superseded) break;
                        string saved = blobStore is null ? checkpoint.Folder : await UploadAsync(blobStore, checkpoint, lease);
                        if (!await record.ReportCheckpoint(a.Attempt, checkpoint.Step, saved)) Supersede();
                        break;
                    case TrainingFinished end:
                        await ReportStepsAsync();
                        finished = end;
                        break;
                }
            }
        }
        catch when (!stopping.IsCancellationRequested)
        {
            // The loop must not outlive its attempt (a run grain that cannot be reached, say): it stops with the usual
            // checkpoint before the failure is reported, so a next attempt never shares the folder with a live one.
            await stopping.CancelAsync();
            try { while (await events.MoveNextAsync()) { } }
            catch (Exception error) { Logger.LogDebug(error, "The stopped training loop of run {Run} failed", a.Spec.RunId); }
            throw;
        }
        var last = finished ?? throw new InvalidOperationException($"The training loop of run {a.Spec.RunId} ended without finishing.");
        if (hangAfter is { } hang && last.Step == hang && !last.Cancelled && hang < a.Spec.Steps)
        {
            Logger.LogWarning("Trainer of run {Run} attempt {Attempt} hangs after step {Step} (test fault)", a.Spec.RunId, a.Attempt, hang);
            await Task.Delay(Timeout.Infinite, lease);
        }
        return new TrainerReport(last.Step, last.Cancelled);
    }

    /// <summary>
    /// Uploads a checkpoint saved in the working folder and drops the older local ones, which a resume never needs: only
    /// the container keeps a run's history.
    /// </summary>
    private static async Task<string> UploadAsync(BlobCheckpointStore store, CheckpointSaved checkpoint, CancellationToken cancellationToken)
    {
        string url = await store.UploadAsync(checkpoint.Folder, checkpoint.Step, cancellationToken);
        string saved = Path.TrimEndingDirectorySeparator(Path.GetFullPath(checkpoint.Folder));
        foreach (var older in Directory.GetDirectories(Path.GetDirectoryName(saved)!, "step-*"))
            if (Path.GetFullPath(older) != saved) TryDelete(older);
        return url;
    }

    /// <summary>Per run and attempt, so a lost attempt still saving on this silo never shares the folder with its successor.</summary>
    private static string WorkingFolder(TrainerAssignment a) =>
        LocalScratch.Folder("platform-checkpoints", a.Spec.RunId, $"attempt-{a.Attempt}");

    private static void TryDelete(string folder) => LocalScratch.TryDelete(folder);

    private async Task<IReadOnlyList<DatasetShard>> CommittedShardsAsync(string dataset, CancellationToken cancellationToken)
    {
        var committed = (await manifests.ReadAsync(dataset, cancellationToken)).Entries;
        if (committed.Count == 0) throw new InvalidOperationException($"Dataset '{dataset}' does not exist or has no committed shards.");
        return [.. committed.Select(manifests.Resolve)];
    }
}
