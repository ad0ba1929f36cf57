using Microsoft.Extensions.Logging;
using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Work;
using Platform.Model.Training.DiLoCo;

namespace Platform.Grains.Training;

/// <summary>
/// What the trainer grain of a multi-trainer run does instead of training itself: it holds the run's lease as for any run,
/// opens the run's <see cref="IDiLoCoCoordinatorGrain"/> for its attempt, starts one <see cref="IDiLoCoReplicaGrain"/> per
/// allocated device (each on the silo owning it), and heartbeats the coordinator's progress to the scheduler until the last
/// round is done. The exchange (<see cref="DiLoCoExchange"/>) lies beside the run's checkpoints, where a next attempt finds
/// the outer state: the folder <c>CHECKPOINT-LOCATION/diloco</c>, or for a blob container the prefix <c>.../diloco/</c> in it,
/// so a run checkpointing to blobs needs no folder every silo reaches.
/// </summary>
internal static class DiLoCoDriver
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static async Task<WorkReport> RunAsync(IGrainFactory grains, TrainerAssignment a, IReadOnlyList<DatasetShard> shards, string worker,
        Action<int> heartbeatStep, ILogger logger, CancellationToken stop)
    {
        var spec = a.Spec;
        int h = spec.SyncEvery, rounds = spec.Steps / h;
        // A requeued run may get fewer devices than replicas: the ranks without one are dropped until a device returns.
        int started = Math.Min(a.Devices.Count, spec.Trainers);
        if (started < 1) throw new InvalidOperationException($"Run {spec.RunId} attempt {a.Attempt} has no device.");
        string exchange = DiLoCoExchange.LocationFor(a.CheckpointLocation);
        var coordinator = grains.GetGrain<IDiLoCoCoordinatorGrain>(spec.RunId);
        var setup = new DiLoCoSetup(a.Attempt, spec.Trainers, h, rounds, spec.OuterLearningRate, spec.OuterMomentum, exchange, a.LeaseTimeout,
            Enumerable.Range(started, spec.Trainers - started).ToArray(), new DiLoCoCheckpoints(a.CheckpointLocation, spec.CheckpointEvery));
        var status = await coordinator.Open(setup);
        if (status.Attempt != a.Attempt) return new TrainerReport(status.Round * h, Stopped: true);
        var record = grains.GetGrain<ITrainingRunGrain>(spec.RunId);
        if (!await record.AttemptStarted(a.Attempt, status.Round * h, worker))
            return new TrainerReport(status.Round * h, Stopped: true);
        logger.LogInformation("Run {Run} attempt {Attempt}: {Started} of {Trainers} DiLoCo replicas from round {Round} of {Rounds}",
            spec.RunId, a.Attempt, started, spec.Trainers, status.Round, rounds);

        var locations = shards.Select(s => s.Location).ToArray();
        // Every replica grain this attempt started, for Stop; and which device each rank trains on now.
        var replicas = new List<IDiLoCoReplicaGrain>();
        var rankDevices = new Dictionary<int, DeviceAddress>();
        async Task StartReplicaAsync(int rank, DeviceAddress device)
        {
            var replica = grains.GetGrain<IDiLoCoReplicaGrain>(DevicePlacedKey.Format(device, $"{spec.RunId}#{a.Attempt}#{rank}"));
            replicas.Add(replica);
            rankDevices[rank] = device;
            await replica.Start(new DiLoCoReplicaAssignment(spec, a.Attempt, rank, device, exchange, locations));
        }
        var scheduler = grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        var sinceDevicesChecked = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            for (int rank = 0; rank < started; rank++) await StartReplicaAsync(rank, a.Devices[rank]);
            while (true)
            {
                status = await coordinator.GetStatus();
                // A coordinator reactivated elsewhere knows no attempt: it reloads the outer state from the exchange.
                if (status.Attempt < a.Attempt) status = await coordinator.Open(setup with { RanksWithoutDevice = MissingRanks(spec.Trainers, rankDevices) });
                if (status.Attempt != a.Attempt) return new TrainerReport(status.Round * h, Stopped: true);
                if (!await record.ReportDiLoCo(a.Attempt, status)) return new TrainerReport(status.Round * h, Stopped: true);
                // The step advances within a round too, so that a long round does not look like a stall.
                heartbeatStep(status.Round * h + status.Replicas.Where(r => !r.Dropped && r.Round == status.Round).Select(r => r.LocalStep).DefaultIfEmpty(0).Max());
                if (status.Finished) return new TrainerReport(status.Round * h, Stopped: false);
                if (status.Error is { } error) throw new InvalidOperationException($"DiLoCo run {spec.RunId}: {error}");
                if (sinceDevicesChecked.Elapsed >= DeviceCheckInterval)
                {
                    sinceDevicesChecked.Restart();
                    await StartReplacementsAsync(await scheduler.Get(spec.RunId), rankDevices, StartReplicaAsync, spec, a.Attempt, logger);
                }
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

    private static readonly TimeSpan DeviceCheckInterval = TimeSpan.FromSeconds(1);

    private static int[] MissingRanks(int trainers, IReadOnlyDictionary<int, DeviceAddress> rankDevices) =>
        Enumerable.Range(0, trainers).Where(rank => !rankDevices.ContainsKey(rank)).ToArray();

    /// <summary>
    /// The scheduler gives a run short of replicas the devices that free up (and takes those whose silo left): each new
    /// device takes a rank that has none, and that rank's replica starts there.
    /// </summary>
    private static async Task StartReplacementsAsync(TrainingRunSummary? summary, Dictionary<int, DeviceAddress> rankDevices, Func<int, DeviceAddress, Task> start,
        TrainingRunSpec spec, int attempt, ILogger logger)
    {
        if (summary is null || summary.Attempt != attempt || summary.Phase != TrainingRunPhase.Running) return;
        var held = summary.Devices.ToHashSet();
        foreach (var (rank, device) in rankDevices.ToArray())
            if (!held.Contains(device)) rankDevices.Remove(rank);
        var fresh = summary.Devices.Where(d => !rankDevices.ContainsValue(d)).ToList();
        foreach (var (rank, device) in MissingRanks(spec.Trainers, rankDevices).Zip(fresh))
        {
            logger.LogInformation("Run {Run} attempt {Attempt}: replica {Rank} starts on {Device}", spec.RunId, attempt, rank, device);
            await start(rank, device);
        }
    }
}
