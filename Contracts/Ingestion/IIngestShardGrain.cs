namespace Platform.Grains.Ingestion;

/// <summary>
/// Runs one attempt of one step of one shard (key: "{job}/{step}/{shard}/{attempt}"), off the grain scheduler,
/// like <see cref="IIngestUnitGrain"/>: <see cref="Start"/> returns at once, the worker reports by heartbeats
/// and a completion.
/// </summary>
public interface IIngestShardGrain : IGrainWithStringKey
{
    Task Start(ShardAssignment assignment);
}

/// <summary>The two leased steps of a shard; between them the job decides dedupe for all shards at once.</summary>
[GenerateSerializer]
public enum ShardStep
{
    /// <summary>Fetch and check every sample of the shard into <see cref="ShardAssignment.Directory"/>.</summary>
    Fetch,

    /// <summary>Write the shard's files from the fetched samples and the verdicts, then commit it to the dataset.</summary>
    Write,
}

/// <param name="Shard">Index of the shard within the job (0-based); its number in the dataset is <paramref name="FirstShardNumber"/> + this.</param>
/// <param name="Directory">Fetch: the attempt's own folder. Write: the folder of the fetch attempt the verdicts were decided on.</param>
/// <param name="VerdictsFile">Write only: one line per sample, its dedupe reason or empty.</param>
/// <param name="DatasetLocation">Where the shard's files go (<see cref="IngestJobRequest.EffectiveDatasetLocation"/>).</param>
[GenerateSerializer, Immutable]
public sealed record ShardAssignment(
    [property: Id(0)] string JobId,
    [property: Id(1)] ShardStep Step,
    [property: Id(2)] int Shard,
    [property: Id(3)] int Attempt,
    [property: Id(4)] string OutputDirectory,
    [property: Id(5)] string Directory,
    [property: Id(6)] string? VerdictsFile,
    [property: Id(7)] int FirstShardNumber,
    [property: Id(8)] string Dataset,
    [property: Id(9)] IngestJobSettings Settings,
    [property: Id(10)] string DatasetLocation);

/// <summary>What one finished shard step saw: samples attempted and, for a fetch, images that passed the checks; for a write, samples stored.</summary>
[GenerateSerializer, Immutable]
public sealed record ShardReport(
    [property: Id(0)] int Attempted,
    [property: Id(1)] int Passed) : Platform.Grains.Work.WorkReport;
