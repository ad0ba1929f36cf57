namespace Platform.Grains.Work;

/// <summary>Which of a coordinator's work tables an item is in.</summary>
[GenerateSerializer]
public enum WorkKind
{
    /// <summary>An ingest work unit: an input file, or a part of one, to extract.</summary>
    Unit,
    /// <summary>A shard to fetch and check.</summary>
    ShardFetch,
    /// <summary>A shard to write and commit.</summary>
    ShardWrite,
    /// <summary>A slice of a crawl's frontier.</summary>
    CrawlSlice,
    /// <summary>A heavy coordinator step (planning, finishing, deciding dedupe) run on a worker.</summary>
    Step,
    /// <summary>A training run's trainer: one item per run in the training scheduler's table; its progress is the step.</summary>
    Training,
}

/// <summary>One item of one of a coordinator's work tables; with its attempt number it names one attempt.</summary>
[GenerateSerializer, Immutable]
public readonly record struct WorkItemId([property: Id(0)] WorkKind Kind, [property: Id(1)] int Index)
{
    public override string ToString() => $"{Kind} {Index}";
}

/// <param name="Worker">Where the attempt runs (the silo's address).</param>
/// <param name="Done">
/// Bytes or records done so far, never decreasing; null while the attempt waits for a work slot or when its worker does not
/// measure progress (see the grains' <c>WorkTableOptions.StallTimeout</c>).
/// </param>
[GenerateSerializer, Immutable]
public sealed record WorkProgress([property: Id(0)] string Worker, [property: Id(1)] long? Done = null);

/// <summary>What a finished attempt hands its coordinator; each kind of work has its own.</summary>
[GenerateSerializer, Immutable]
public abstract record WorkReport;

/// <summary>
/// The coordinator's side of the one worker protocol, for every kind of leased work (ingest units and shard steps, crawl
/// slices, coordinator steps, trainers). Workers call it through the grains' <c>LeasedWorkRunner</c>.
/// </summary>
public interface IWorkCoordinatorGrain : IGrainWithStringKey
{
    /// <summary>A worker still runs this attempt: extends its lease. False when the attempt was superseded (the worker should stop).</summary>
    /// <remarks>
    /// Interleaved with the coordinator's other calls: a coordinator waiting out a storage outage in a write still renews its
    /// workers' leases, so the outage does not expire them (heartbeats only touch leases in memory, never storage).
    /// </remarks>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<bool> Heartbeat(WorkItemId item, int attempt, WorkProgress progress);

    /// <summary>The attempt finished and its outputs are complete. False when the attempt was superseded (its outputs are ignored).</summary>
    Task<bool> Complete(WorkItemId item, int attempt, WorkReport report);

    /// <summary>The attempt failed; the item is retried until its attempts run out.</summary>
    Task Fail(WorkItemId item, int attempt, string error);
}
