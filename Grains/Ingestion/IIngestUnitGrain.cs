namespace Platform.Grains.Ingestion;

/// <summary>
/// Runs one attempt of one work unit (key: "{job}/{unit}/{attempt}"), off the grain scheduler.
/// <see cref="Start"/> returns at once; the worker reports to the job by heartbeats and a completion.
/// </summary>
public interface IIngestUnitGrain : IGrainWithStringKey
{
    Task Start(UnitAssignment assignment);
}

[GenerateSerializer, Immutable]
public sealed record UnitAssignment(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Unit,
    [property: Id(2)] int Attempt,
    [property: Id(3)] string Input,
    [property: Id(4)] string Directory,
    [property: Id(5)] IngestJobSettings Settings);
