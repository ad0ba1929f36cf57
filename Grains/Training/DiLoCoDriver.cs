using Microsoft.Extensions.Logging;
using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Work;

namespace Platform.Grains.Training;

/// <summary>
/// What the trainer grain of a multi-trainer run does instead of training itself: it holds the run's lease as for any run,
/// opens the run's <see cref="IDiLoCoCoordinatorGrain"/> for its attempt, starts one <see cref="IDiLoCoReplicaGrain"/> per
/// allocated device (each on the silo owning it), and heartbeats the coordinator's progress to the scheduler until the last
/// round is done. The exchange folder lies in the run's checkpoint folder, where a next attempt finds the outer state.
/// </summary>
internal static class DiLoCoDriver
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static string ExchangeFolder(string checkpointLocation) => Path.Combine(checkpointLocation, "diloco");

    public static async Task<WorkReport> RunAsync(IGrainFactory grains, TrainerAssignment a, IReadOnlyList<DatasetShard> shards, string worker,
        Action<int> heartbeatStep, ILogger logger, CancellationToken stop)
    {
        var spec = a.Spec;
        int h = spec.SyncEvery, rounds = spec.Steps / h;
        if (a.Devices.Count < spec.Trainers) throw new InvalidOperationException($"Run {spec.RunId} has {spec.Trainers} trainers but {a.Devices.Count} devices.");
        string exchange = ExchangeFolder(a.CheckpointLocation);
        var coordinator = grains.GetGrain<IDiLoCoCoordinatorGrain>(spec.RunId);
        var setup = new DiLoCoSetup(a.Attempt, spec.Trainers, h, rounds, spec.OuterLearningRate, spec.OuterMomentum, exchange, a.LeaseTimeout);
        var status = await coordinator.Open(setup);
        if (status.Attempt != a.Attempt) return new TrainerReport(status.Round * h, Stopped: true);
        var record = grains.GetGrain<ITrainingRunGrain>(spec.RunId);
        if (!await record.AttemptStarted(a.Attempt, status.Round * h, worker))
            return new TrainerReport(status.Round * h, Stopped: true);
        logger.LogInformation("Run {Run} attempt {Attempt}: {Trainers} DiLoCo replicas from round {Round} of {Rounds}", spec.RunId, a.Attempt, spec.Trainers, status.Round, rounds);

        var replicas = Enumerable.Range(0, spec.Trainers)
            .Select(rank => grains.GetGrain<IDiLoCoReplicaGrain>(DevicePlacedKey.Format(a.Devices[rank], $"{spec.RunId}#{a.Attempt}#{rank}")))
            .ToArray();
        var locations = shards.Select(s => s.Location).ToArray();
        try
        {
            for (int rank = 0; rank < replicas.Length; rank++)
                await replicas[rank].Start(new DiLoCoReplicaAssignment(spec, a.Attempt, rank, a.Devices[rank], exchange, locations));
            while (true)
            {
                status = await coordinator.GetStatus();
                // A coordinator reactivated elsewhere knows no attempt: it reloads the outer state from the folder.
                if (status.Attempt < a.Attempt) status = await coordinator.Open(setup);
                if (status.Attempt != a.Attempt) return new TrainerReport(status.Round * h, Stopped: true);
                if (!await record.ReportDiLoCo(a.Attempt, status)) return new TrainerReport(status.Round * h, Stopped: true);
                // The step advances within a round too, so that a long round does not look like a stall.
                heartbeatStep(status.Round * h + status.Replicas.Where(r => !r.Dropped && r.Round == status.Round).Select(r => r.LocalStep).DefaultIfEmpty(0).Max());
                if (status.Finished) return new TrainerReport(status.Round * h, Stopped: false);
                if (status.Error is { } error) throw new InvalidOperationException($"DiLoCo run {spec.RunId}: {error}");
                try
                {
                    await Task.Delay(PollInterval, stop);
                }
                catch (OperationCanceledException)
                {
                    return new TrainerReport(status.Round * h, Stopped: true);
                }
            }
        }
        finally
        {
            foreach (var replica in replicas)
            {
                try { await replica.Stop(); }
                catch (Exception e) { logger.LogDebug(e, "A DiLoCo replica of run {Run} could not be stopped", spec.RunId); }
            }
        }
    }
}
