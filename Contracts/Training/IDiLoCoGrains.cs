using Platform.Grains.Devices;

namespace Platform.Grains.Training;

/// <summary>
/// The coordinator of a multi-trainer (DiLoCo) run (key: run id): holds the outer optimiser's state (on the run's checkpoint
/// storage) and the round number; averages the replicas' pseudo-gradients as they report, applies the outer step once every
/// live replica reported, and publishes the new global weights once. A replica silent for a lease is dropped from the round.
/// </summary>
public interface IDiLoCoCoordinatorGrain : IGrainWithStringKey
{
    /// <summary>An attempt of the run takes over: the outer state is loaded from its folder (or starts at round 0), reports of older attempts are refused.</summary>
    Task<DiLoCoStatus> Open(DiLoCoSetup setup);

    /// <summary>A replica is alive and at <paramref name="localStep"/> of <paramref name="round"/>; false when it should stop (another attempt, or dropped).</summary>
    Task<bool> Heartbeat(int attempt, int rank, int round, int localStep);

    /// <summary>
    /// Replica <paramref name="rank"/> wrote its pseudo-gradient of <paramref name="round"/> as <paramref name="chunks"/> chunk files (and, in round 0, its
    /// start weights as <paramref name="initialChunks"/>). False when the report is refused (stale attempt or round, dropped replica).
    /// </summary>
    Task<bool> ReportRound(int attempt, DiLoCoRoundReport report);

    Task<DiLoCoStatus> GetStatus();
}

/// <summary>One replica of a DiLoCo run (key: <c>DevicePlacedKey.Format(device, "{runId}#{attempt}#{rank}")</c>), on the silo owning its device.</summary>
public interface IDiLoCoReplicaGrain : IGrainWithStringKey
{
    /// <summary>Starts the replica's rounds and returns at once; a repeated call changes nothing.</summary>
    Task Start(DiLoCoReplicaAssignment assignment);

    Task Stop();
}

/// <param name="RanksWithoutDevice">Replicas the attempt could not start (it got fewer devices than replicas): dropped from the start, they join when a device is found for them.</param>
[GenerateSerializer, Immutable]
public sealed record DiLoCoSetup(
    [property: Id(0)] int Attempt,
    [property: Id(1)] int Replicas,
    [property: Id(2)] int SyncEvery,
    [property: Id(3)] int Rounds,
    [property: Id(4)] double OuterLearningRate,
    [property: Id(5)] double OuterMomentum,
    [property: Id(6)] string Exchange,
    [property: Id(7)] TimeSpan ReplicaTimeout,
    [property: Id(8)] IReadOnlyList<int>? RanksWithoutDevice = null,
    [property: Id(9)] DiLoCoCheckpoints? Checkpoints = null);

/// <summary>Where and how often a multi-trainer run saves the checkpoints its record lists: the global weights at round boundaries.</summary>
/// <param name="Every">Steps between checkpoints (a round ending past a multiple saves one); 0: only at the run's end.</param>
[GenerateSerializer, Immutable]
public sealed record DiLoCoCheckpoints(
    [property: Id(0)] string RunFolder,
    [property: Id(1)] int Every);

[GenerateSerializer, Immutable]
public sealed record DiLoCoReplicaAssignment(
    [property: Id(0)] TrainingRunSpec Spec,
    [property: Id(1)] int Attempt,
    [property: Id(2)] int Rank,
    [property: Id(3)] DeviceAddress Device,
    [property: Id(4)] string Exchange,
    [property: Id(5)] IReadOnlyList<string> ShardLocations);

/// <param name="Part">The data part (and its epoch) the replica trained on.</param>
/// <param name="Steps">Its local steps' metrics, numbered 1 to H.</param>
/// <param name="Silo">The silo the replica trained on (its parsable address), as the replica itself found it.</param>
[GenerateSerializer, Immutable]
public sealed record DiLoCoRoundReport(
    [property: Id(0)] int Rank,
    [property: Id(1)] int Round,
    [property: Id(2)] int Chunks,
    [property: Id(3)] int InitialChunks,
    [property: Id(4)] int Epoch,
    [property: Id(5)] int Part,
    [property: Id(6)] IReadOnlyList<TrainingStepRecord> Steps,
    [property: Id(7)] string? Silo = null,
    [property: Id(8)] DiLoCoReplicaTimings? Timings = null);

/// <summary>
/// Where a replica's round went outside its steps, in seconds: waiting from its previous report until the coordinator
/// opened this round (the barrier and the coordinator's work, as the replica saw them), reading this round's start weights
/// and writing them into its model, computing the pseudo-gradient, writing its chunks, and saving its trainer's state
/// (0 in a round after which the run saves no checkpoint).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DiLoCoReplicaTimings(
    [property: Id(0)] double WaitSeconds,
    [property: Id(1)] double FetchSeconds,
    [property: Id(2)] double PseudoGradientSeconds,
    [property: Id(3)] double ChunkWriteSeconds,
    [property: Id(4)] double StateSaveSeconds);

/// <summary>
/// Where the coordinator's part of a round went, in seconds: reading the replicas' chunks and summing them (all reports
/// together), handing the round's steps to the run's record, the outer step, and publishing the next round's weights (with
/// the outer state and the rounds' history when the round checkpoints).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DiLoCoCoordinatorTimings(
    [property: Id(0)] double ReadAndAverageSeconds,
    [property: Id(1)] double RecordSeconds,
    [property: Id(2)] double OuterStepSeconds,
    [property: Id(3)] double PublishSeconds);

/// <summary>A replica as the coordinator sees it.</summary>
[GenerateSerializer, Immutable]
public sealed record DiLoCoReplicaProgress(
    [property: Id(0)] int Rank,
    [property: Id(1)] int Round,
    [property: Id(2)] int LocalStep,
    [property: Id(3)] DateTimeOffset LastHeard,
    [property: Id(4)] bool Dropped,
    [property: Id(5)] bool ReportedThisRound);

/// <summary>One completed round: who took part, on which data parts, the bytes sent up and how long the first reporter waited at the barrier.</summary>
/// <param name="Silos">The silo each of <paramref name="Ranks"/> trained on, as its replica reported it (null entries: a replica that did not say).</param>
/// <param name="AllReportedAt">When the last replica's report was in and the outer step began: from one round's to the next's is a whole round.</param>
/// <param name="ReplicaTimings">Each of <paramref name="Ranks"/>'s own breakdown of the round outside its steps (null entries: a replica that did not say).</param>
/// <param name="CoordinatorTimings">The coordinator's breakdown of the round.</param>
[GenerateSerializer, Immutable]
public sealed record DiLoCoRoundRecord(
    [property: Id(0)] int Round,
    [property: Id(1)] IReadOnlyList<int> Ranks,
    [property: Id(2)] IReadOnlyList<int> Epochs,
    [property: Id(3)] IReadOnlyList<int> Parts,
    [property: Id(4)] long BytesUp,
    [property: Id(5)] double BarrierWaitSeconds,
    [property: Id(6)] double MeanLoss,
    [property: Id(7)] IReadOnlyList<string?>? Silos = null,
    [property: Id(8)] DateTimeOffset AllReportedAt = default,
    [property: Id(9)] IReadOnlyList<DiLoCoReplicaTimings?>? ReplicaTimings = null,
    [property: Id(10)] DiLoCoCoordinatorTimings? CoordinatorTimings = null);

[GenerateSerializer, Immutable]
public sealed record DiLoCoStatus(
    [property: Id(0)] int Attempt,
    [property: Id(1)] int Round,
    [property: Id(2)] int Rounds,
    [property: Id(3)] bool Finished,
    [property: Id(4)] IReadOnlyList<DiLoCoReplicaProgress> Replicas,
    [property: Id(5)] IReadOnlyList<DiLoCoRoundRecord> History,
    [property: Id(6)] string? Error,
    [property: Id(7)] string? Note = null)
{
    /// <summary>
    /// A multi-trainer run whose trainer has reported no round yet (queued, or starting): round 0 of the rounds its spec
    /// asks for, each replica the spec names at round 0, and a note saying so, rather than nothing.
    /// </summary>
    public static DiLoCoStatus NotReportedYet(TrainingRunSpec spec) => new(
        0, 0, spec.Steps / Math.Max(spec.SyncEvery, 1), false,
        Enumerable.Range(0, spec.Trainers).Select(rank => new DiLoCoReplicaProgress(rank, 0, 0, DateTimeOffset.MinValue, false, false)).ToArray(),
        [], null, NotReportedNote);

    public const string NotReportedNote = "no round reported yet";
}
