namespace Platform.Grains.Ingestion;

/// <summary>
/// Runs one attempt of one work unit (key: "{job}/{unit}/{attempt}"), off the grain scheduler.
/// <see cref="Start"/> returns at once; the worker reports to the job by heartbeats and a completion.
/// </summary>
public interface IIngestUnitGrain : IGrainWithStringKey
{
    Task Start(UnitAssignment assignment);
}

/// <param name="Input">The input file; the unit reads all of it, or (with <paramref name="End"/>) its part [<paramref name="Start"/>, <paramref name="End"/>).</param>
[GenerateSerializer, Immutable]
public sealed record UnitAssignment(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Unit,
    [property: Id(2)] int Attempt,
    [property: Id(3)] string Input,
    [property: Id(4)] string Directory,
    [property: Id(5)] IngestJobSettings Settings,
    [property: Id(6)] long Start = 0,
    [property: Id(7)] long? End = null);
