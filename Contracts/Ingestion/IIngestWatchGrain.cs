namespace Platform.Grains.Ingestion;

/// <summary>
/// The memory of one watched folder (key: the watch's name): every file ever claimed for ingestion,
/// with the ingest job it became. A file is claimed once, by its path relative to the folder, so a
/// rescan, a retried Hangfire run, a second process scanning the same folder or a restart never
/// starts a second ingestion of it. Claiming and submitting are two steps: a claim stays
/// <see cref="WatchedFile.Submitted"/> = false until the scanner confirms the job was submitted,
/// and unconfirmed claims are handed out again (job ids are deterministic, so submitting again is harmless).
/// </summary>
public interface IIngestWatchGrain : IGrainWithStringKey
{
    /// <summary>Claims the files not seen before; returns every claim still waiting for its submission (new ones included).</summary>
    Task<IReadOnlyList<WatchedFile>> Claim(IReadOnlyList<DroppedFile> files);

    /// <summary>The jobs of these files were submitted.</summary>
    Task MarkSubmitted(IReadOnlyList<string> relativePaths);

    Task<IngestWatchStatus> GetStatus();
}

/// <summary>A file found in the watched folder, settled (not written to for the settle time).</summary>
[GenerateSerializer, Immutable]
public sealed record DroppedFile(
    [property: Id(0)] string RelativePath,
    [property: Id(1)] long SizeBytes,
    [property: Id(2)] DateTimeOffset LastWriteUtc);

[GenerateSerializer, Immutable]
public sealed record WatchedFile(
    [property: Id(0)] string RelativePath,
    [property: Id(1)] long SizeBytes,
    [property: Id(2)] DateTimeOffset LastWriteUtc,
    [property: Id(3)] string JobId,
    [property: Id(4)] DateTimeOffset ClaimedAt,
    [property: Id(5)] bool Submitted);

[GenerateSerializer, Immutable]
public sealed record IngestWatchStatus(
    [property: Id(0)] string Name,
    [property: Id(1)] IReadOnlyList<WatchedFile> Files,
    [property: Id(2)] long Scans,
    [property: Id(3)] DateTimeOffset? LastScan);
