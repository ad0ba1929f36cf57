using Platform.Grains.Devices;
using Platform.Grains.Work;

namespace Platform.Grains.Training;

/// <summary>
/// Trains one attempt of one run (key: <c>DevicePlacedKey.Format(first device, "{runId}#{attempt}")</c>), on the silo
/// owning its device and nowhere else, under a lease from the <see cref="ITrainingSchedulerGrain"/>: the loop runs on a
/// dedicated thread, reports steps and checkpoints to the run's <see cref="ITrainingRunGrain"/>, heartbeats its step to
/// the scheduler, and completes with a <see cref="TrainerReport"/>.
/// </summary>
public interface ITrainerGrain : IGrainWithStringKey
{
    /// <summary>Starts the attempt and returns at once; a repeated call joins the attempt already running.</summary>
    Task Start(TrainerAssignment assignment);

    /// <summary>Stops after the current step, saves a checkpoint and completes with <see cref="TrainerReport.Stopped"/> (pause, cancel).</summary>
    Task Stop();
}

/// <param name="Item">The run's item in the scheduler's work table.</param>
/// <param name="Devices">All the devices allocated to the attempt; the trainer's key names the first.</param>
/// <param name="StallTimeout">Echoed for the trainer's logs; the scheduler enforces it.</param>
[GenerateSerializer, Immutable]
public sealed record TrainerAssignment(
    [property: Id(0)] TrainingRunSpec Spec,
    [property: Id(1)] WorkItemId Item,
    [property: Id(2)] int Attempt,
    [property: Id(3)] IReadOnlyList<DeviceAddress> Devices,
    [property: Id(4)] string CheckpointLocation,
    [property: Id(5)] TimeSpan LeaseTimeout,
    [property: Id(6)] TimeSpan StallTimeout);

/// <summary>How a trainer attempt ended: at <see cref="Step"/>, with a checkpoint of it saved; stopped early on request, or at the run's last step.</summary>
[GenerateSerializer, Immutable]
public sealed record TrainerReport([property: Id(0)] int Step, [property: Id(1)] bool Stopped) : WorkReport;
