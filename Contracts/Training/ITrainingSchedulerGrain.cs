using Platform.Grains.Devices;
using Platform.Grains.Work;

namespace Platform.Grains.Training;

/// <summary>
/// The cluster's one training scheduler (key <see cref="Key"/>): the queue of training runs and the device allocation
/// table, in durable state. Runs are placed by priority, then submission order, each on all the devices it asks for
/// or none (gang allocation); a run that cannot be placed waits and its summary says why. It is the coordinator of the
/// trainers' leases (<see cref="WorkKind.Training"/>, one item per run): a trainer whose silo leaves the cluster, whose
/// lease expires or whose step stops advancing loses its devices, and its run is requeued at the front and resumes
/// from its latest checkpoint on whatever devices are free.
/// </summary>
public interface ITrainingSchedulerGrain : IWorkCoordinatorGrain
{
    public const string Key = "cluster";

    /// <summary>Queues a run (and registers it with its <see cref="ITrainingRunGrain"/>); the same run id again returns that run as it is.</summary>
    Task<TrainingRunSummary> Submit(TrainingRunSpec spec);

    /// <summary>How many finished runs a listing shows unless told otherwise.</summary>
    public const int ListedFinishedRuns = 100;

    /// <summary>
    /// Every run not finished, in queue order (priority, then submission), then the <paramref name="finishedRuns"/> that finished
    /// last, newest first (older ones stay findable by <see cref="Get"/>).
    /// </summary>
    Task<IReadOnlyList<TrainingRunSummary>> List(int finishedRuns = ListedFinishedRuns);

    /// <summary>The run's summary, finished or not, or null when no run has this id.</summary>
    Task<TrainingRunSummary?> Get(string runId);

    /// <summary>Stops the run for good: its trainer stops after the current step and its devices are released.</summary>
    Task<TrainingRunSummary> Cancel(string runId);

    /// <summary>Checkpoints the run and releases its devices; <see cref="Resume"/> queues it again.</summary>
    Task<TrainingRunSummary> Pause(string runId);

    /// <summary>Queues a paused run again; it continues from its latest checkpoint.</summary>
    Task<TrainingRunSummary> Resume(string runId);

    /// <summary>Which run (and attempt) holds each allocated device, and which evaluation borrowed each lent one.</summary>
    Task<IReadOnlyList<DeviceAllocation>> Allocations();

    /// <summary>
    /// Lends a free device to <paramref name="borrower"/> (an evaluation, `eval:...`) when no queued run is waiting for a
    /// device of its kind; the same borrower again gets its loan back. The loan is in the allocation table until it is
    /// returned, its holder stops renewing it within the lease, or its silo leaves the cluster.
    /// </summary>
    Task<DeviceLoanAnswer> LendDevice(string borrower);

    /// <summary>Keeps a loan's lease; false when the loan is gone (expired or its silo left), and the device must no longer be used.</summary>
    Task<bool> RenewLoan(string borrower);

    /// <summary>Gives a lent device back; a loan already gone changes nothing.</summary>
    Task ReturnDevice(string borrower);

    /// <summary>
    /// Expires lost or stalled trainers' leases, reclaims the devices of silos that left the cluster and places waiting
    /// runs. The scheduler does this on its own timer while active; a recurring job and a reminder call it so a scheduler
    /// whose silo died comes back.
    /// </summary>
    Task CheckRuns();
}

/// <summary>The phases of a training run.</summary>
[GenerateSerializer]
public enum TrainingRunPhase
{
    /// <summary>Waiting for devices (see <see cref="TrainingRunSummary.WaitingReason"/>).</summary>
    Queued,
    /// <summary>A trainer holds the run's devices and trains.</summary>
    Running,
    /// <summary>Asked to pause: the trainer checkpoints and releases its devices.</summary>
    Pausing,
    Paused,
    /// <summary>Asked to cancel: the trainer stops after its current step.</summary>
    Cancelling,
    Cancelled,
    Completed,
    Failed,
}

/// <summary>The scheduler's view of one run.</summary>
/// <param name="SubmissionOrder">The run's place in submission order (1 for the first run the scheduler took).</param>
/// <param name="WaitingReason">Why a queued run is not placed, e.g. "needs 2 cuda devices, 1 free"; null otherwise.</param>
/// <param name="Devices">The devices the run holds now; empty unless it runs (or is pausing or cancelling).</param>
/// <param name="Attempt">The trainer attempt running now or last (0: never started); each placement is a new attempt.</param>
/// <param name="Step">The step its trainer reported last.</param>
/// <param name="Error">Why the run failed, or what its last lost attempt met.</param>
[GenerateSerializer, Immutable]
public sealed record TrainingRunSummary(
    [property: Id(0)] string RunId,
    [property: Id(1)] TrainingRunPhase Phase,
    [property: Id(2)] int Priority,
    [property: Id(3)] long SubmissionOrder,
    [property: Id(4)] int DevicesRequested,
    [property: Id(5)] string? DeviceKind,
    [property: Id(6)] IReadOnlyList<DeviceAddress> Devices,
    [property: Id(7)] string? WaitingReason,
    [property: Id(8)] int Attempt,
    [property: Id(9)] int Step,
    [property: Id(10)] int Steps,
    [property: Id(11)] string? Error,
    [property: Id(12)] DateTimeOffset SubmittedAt,
    [property: Id(13)] DateTimeOffset? StartedAt,
    [property: Id(14)] DateTimeOffset? FinishedAt)
{
    public bool IsFinished => Phase is TrainingRunPhase.Completed or TrainingRunPhase.Failed or TrainingRunPhase.Cancelled;
}

/// <summary>A device lent to an evaluation: <see cref="Lease"/> is how long it stays lent without a renewal.</summary>
[GenerateSerializer, Immutable]
public sealed record DeviceLoan(
    [property: Id(0)] string Borrower,
    [property: Id(1)] DeviceAddress Device,
    [property: Id(2)] TimeSpan Lease);

/// <summary>The loan, or why none can be made now (no device free, or the free ones are wanted by a queued run).</summary>
[GenerateSerializer, Immutable]
public sealed record DeviceLoanAnswer(
    [property: Id(0)] DeviceLoan? Loan,
    [property: Id(1)] string? WaitingReason);

/// <summary>One allocated device and the run attempt holding it, or the evaluation it is lent to (<see cref="RunId"/> `eval:...`, attempt 0).</summary>
[GenerateSerializer, Immutable]
public sealed record DeviceAllocation(
    [property: Id(0)] DeviceAddress Device,
    [property: Id(1)] string RunId,
    [property: Id(2)] int Attempt);
