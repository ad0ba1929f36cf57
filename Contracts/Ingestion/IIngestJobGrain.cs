using Platform.Grains.Work;

namespace Platform.Grains.Ingestion;

/// <summary>
/// One distributed ingestion run (key: job id): its inputs, settings, work units (an input file, or a part of a big one)
/// with their attempts and leases, the job-wide frequency filtering and, when the job names a dataset,
/// the shard phase: shards fetched by leased workers, dedupe decided
/// for all of them at once, shards written and committed by leased workers. Submitting the same job
/// again returns its status, so Hangfire and the CLI may retry. Long work never runs inside a call:
/// callers poll <see cref="GetStatus"/>.
/// </summary>
public interface IIngestJobGrain : IWorkCoordinatorGrain
{
    Task<IngestJobStatus> Submit(IngestJobRequest request);

    Task<IngestJobStatus> GetStatus();
}

/// <param name="OutputDirectory">The job's work folder (extraction outputs, unit and shard attempts), on storage every silo can write.</param>
/// <param name="Dataset">The dataset the shards are committed to; without one the job stops after extraction.</param>
/// <param name="DatasetLocation">
/// Where the dataset's files (shards, text, funnel) are written: a folder, or a blob container as
/// <c>http(s)://account-endpoint/container[/prefix]</c> in the silos' storage account (or with a SAS token), as `ingest run --out`
/// takes it. Default: <c>{OutputDirectory}/dataset</c>.
/// </param>
[GenerateSerializer, Immutable]
public sealed record IngestJobRequest(
    [property: Id(0)] IReadOnlyList<string> Inputs,
    [property: Id(1)] string OutputDirectory,
    [property: Id(2)] IngestJobSettings Settings,
    [property: Id(3)] string? Dataset = null,
    [property: Id(4)] string? DatasetLocation = null)
{
    /// <summary>The folder under <see cref="OutputDirectory"/> that holds the dataset when no <see cref="DatasetLocation"/> is given.</summary>
    public const string DefaultDatasetFolder = "dataset";

    public string EffectiveDatasetLocation => DatasetLocation ?? Path.Combine(OutputDirectory, DefaultDatasetFolder);
}


/// <summary>What a job runs with; the defaults are those of `platform ingest extract`.</summary>
[GenerateSerializer, Immutable]
public sealed record IngestJobSettings
{
    /// <summary>ALIGN: alt texts on more than 10 distinct images are dropped.</summary>
    [Id(0)] public int MaxImagesPerAltText { get; init; } = 10;
    /// <summary>ALIGN: images with more than 1000 distinct alt texts are dropped.</summary>
    [Id(1)] public int MaxAltTextsPerImage { get; init; } = 1000;
    /// <summary>Produce text.jsonl (default on).</summary>
    [Id(2)] public bool ExtractText { get; init; } = true;
    /// <summary>A unit whose worker sent no heartbeat for this long is presumed lost and restarted elsewhere (default 60 s).</summary>
    [Id(3)] public TimeSpan LeaseTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Attempts per unit (and for each job-wide step: planning, finishing, dedupe) before the job fails (default 5).</summary>
    [Id(4)] public int MaxAttempts { get; init; } = 5;
    /// <summary>Samples attempted per shard (default 10,000, as `ingest run`).</summary>
    [Id(5)] public int SamplesPerShard { get; init; } = 10_000;
    /// <summary>Drop a sample whose URL an earlier sample has (default on).</summary>
    [Id(6)] public bool DedupeByUrl { get; init; } = true;
    /// <summary>Drop an image whose bytes an earlier sample has (default on).</summary>
    [Id(7)] public bool DedupeByImageBytes { get; init; } = true;
    /// <summary>Drop an image within this pHash Hamming distance of an earlier one (default 8; null: off).</summary>
    [Id(8)] public int? MaxImageHammingDistance { get; init; } = 8;
    /// <summary>Languages kept for pairs and page text, as primary subtags (default English only); empty: no language filter.</summary>
    [Id(9)] public string[] Languages { get; init; } = ["en"];
    /// <summary>Identify the language of pages that declare none from their text, so the language filter applies to them (default on, as `ingest run`).</summary>
    [Id(10)] public bool DetectLanguage { get; init; } = true;
    /// <summary>
    /// An input larger than this is split into work units of about this size (default 256 MiB), so one big dump spreads over
    /// the silos: WARC/WAT at record boundaries, URL lists at row boundaries (the ingestion library's <c>InputSplitter</c>).
    /// </summary>
    [Id(11)] public long UnitBytes { get; init; } = DefaultUnitBytes;
    /// <summary>
    /// A unit or shard fetch whose worker still heartbeats but whose progress (bytes its attempt has written) has not advanced for this long
    /// is presumed stuck and restarted elsewhere (default 10 min: far longer than a slow but moving worker goes without writing; zero: off).
    /// Waiting for a work slot does not count. See <see cref="WorkTableOptions.StallTimeout"/>.
    /// </summary>
    [Id(12)] public TimeSpan StallTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public const long DefaultUnitBytes = 256L << 20;
}

[GenerateSerializer]
public enum IngestJobPhase
{
    NotSubmitted,
    Extracting,
    Finishing,
    Completed,
    Failed,
    /// <summary>Shard phase: workers fetch and check each shard's samples.</summary>
    FetchingShards,
    /// <summary>Shard phase: the job decides dedupe for every sample at once.</summary>
    Deduping,
    /// <summary>Shard phase: workers write and commit each shard.</summary>
    WritingShards,
    /// <summary>The job cuts its big inputs into work units (<see cref="IngestJobSettings.UnitBytes"/>); until then each input shows as one unit.</summary>
    Planning,
}

[GenerateSerializer]
public enum WorkUnitState
{
    Pending,
    Running,
    Done,
    Failed,
}

/// <summary>
/// What one finished unit attempt saw; <c>TextDocuments</c> counts before the job-wide span dedupe, which may reject some.
/// A WARC unit's record offsets count from <c>DecompressedStart</c>, and it read <c>DecompressedBytes</c> (the ingestion library's <c>WarcExtent</c>):
/// the job places the images of a part of a gzip file, whose decompressed start the unit cannot know, after the parts before it.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record UnitReport(
    [property: Id(0)] long InputBytes,
    [property: Id(1)] long Pages,
    [property: Id(2)] long PairsPassed,
    [property: Id(3)] long TextDocuments,
    [property: Id(4)] long DecompressedStart = 0,
    [property: Id(5)] long DecompressedBytes = 0) : WorkReport;

/// <param name="Input">The unit's input: a file, or a part of one as <c>file.warc.gz [0, 268435456)</c>.</param>
[GenerateSerializer, Immutable]
public sealed record WorkUnitStatus(
    [property: Id(0)] int Index,
    [property: Id(1)] string Input,
    [property: Id(2)] WorkUnitState State,
    [property: Id(3)] int Attempt,
    [property: Id(4)] string? Worker,
    [property: Id(5)] string? LastError);

[GenerateSerializer, Immutable]
public sealed record IngestJobStatus(
    [property: Id(0)] string JobId,
    [property: Id(1)] IngestJobPhase Phase,
    [property: Id(2)] IReadOnlyList<WorkUnitStatus> Units,
    [property: Id(3)] long InputBytesDone,
    [property: Id(4)] long Pages,
    [property: Id(5)] long PairsPassed,
    [property: Id(6)] long PairsKept,
    [property: Id(7)] int FinishAttempts,
    [property: Id(8)] string? Error,
    [property: Id(9)] ShardPhaseStatus? Shards = null)
{
    public int UnitsDone => Units.Count(u => u.State == WorkUnitState.Done);
    public int Restarts => Units.Sum(u => Math.Max(0, u.Attempt - 1));
    public bool IsOver => Phase is IngestJobPhase.Completed or IngestJobPhase.Failed;
}

/// <summary>Progress of the shard phase: shards fetched, shards committed, samples attempted and stored so far.</summary>
[GenerateSerializer, Immutable]
public sealed record ShardPhaseStatus(
    [property: Id(0)] int ShardCount,
    [property: Id(1)] int FirstShardNumber,
    [property: Id(2)] int ShardsFetched,
    [property: Id(3)] int ShardsCommitted,
    [property: Id(4)] long SamplesAttempted,
    [property: Id(5)] long SamplesStored,
    [property: Id(6)] int DedupeAttempts,
    [property: Id(7)] int Restarts,
    [property: Id(8)] IReadOnlyList<WorkUnitStatus> Running);
