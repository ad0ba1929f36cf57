using Platform.Grains.Work;

namespace Platform.Grains.Ingestion;

/// <summary>
/// Runs one attempt of one of a job's heavy job-wide steps (key: "{job}/step/{step}/{attempt}") on a worker, off the grain
/// scheduler, like <see cref="IIngestUnitGrain"/>: <see cref="Start"/> returns at once, the worker reports by heartbeats and a
/// completion, and the job grain only moves state.
/// </summary>
public interface IIngestStepGrain : IGrainWithStringKey
{
    Task Start(StepAssignment assignment);
}

/// <summary>The job-wide steps, in the order a job runs them; each is one item of the job's step table, its index the step's number.</summary>
[GenerateSerializer]
public enum IngestStep
{
    /// <summary>Cut the big inputs into work units.</summary>
    Plan,
    /// <summary>Count the units' pairs job-wide, filter them by frequency and write the job's extraction outputs (the grains' <c>ClusterIngestStages.FinishAsync</c>).</summary>
    Finish,
    /// <summary>Decide dedupe for every fetched sample at once (the grains' <c>ClusterIngestStages.DecideDedupeAsync</c>).</summary>
    Dedupe,
    /// <summary>Every shard is committed: write the job's funnel into the dataset (the funnel stage).</summary>
    Funnel,
}

/// <param name="Inputs">Plan: the job's inputs.</param>
/// <param name="Directories">Finish: the accepted attempt's folder of every unit. Dedupe: the accepted fetch folder of every shard.</param>
/// <param name="ImageOffsetShifts">Finish: per unit, what makes its image offsets offsets in the whole file.</param>
/// <param name="FirstShardNumber">Funnel: the job's first shard number in its dataset.</param>
/// <param name="ShardCount">Funnel: the job's shards.</param>
[GenerateSerializer, Immutable]
public sealed record StepAssignment(
    [property: Id(0)] string JobId,
    [property: Id(1)] IngestStep Step,
    [property: Id(2)] int Attempt,
    [property: Id(3)] IngestJobRequest Request,
    [property: Id(4)] IReadOnlyList<string> Inputs,
    [property: Id(5)] IReadOnlyList<string> Directories,
    [property: Id(6)] IReadOnlyList<long>? ImageOffsetShifts = null,
    [property: Id(8)] int FirstShardNumber = 0,
    [property: Id(9)] int ShardCount = 0);

/// <summary>One planned work unit: an input, or its part [Start, End).</summary>
[GenerateSerializer, Immutable]
public sealed record PlannedUnit([property: Id(0)] string Input, [property: Id(1)] long Start, [property: Id(2)] long? End);

[GenerateSerializer, Immutable]
public sealed record PlanReport([property: Id(0)] IReadOnlyList<PlannedUnit> Units) : WorkReport;

/// <param name="FirstShardNumber">The job's first shard number in its dataset (0 without a dataset).</param>
[GenerateSerializer, Immutable]
public sealed record FinishReport([property: Id(0)] long PairsKept, [property: Id(1)] int FirstShardNumber) : WorkReport;

/// <summary>A step whose outputs are files: its completion is all it reports.</summary>
[GenerateSerializer, Immutable]
public sealed record StepDoneReport : WorkReport;
