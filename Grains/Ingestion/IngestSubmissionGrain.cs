namespace Platform.Grains.Ingestion;

[GenerateSerializer]
public sealed class IngestSubmissionState
{
    [Id(0)] public IngestJobRequest? Request { get; set; }
}

/// <summary>See <see cref="IIngestSubmissionGrain"/>.</summary>
public sealed class IngestSubmissionGrain(
    [PersistentState("ingestsubmission", PlatformStorage.GrainStateProvider)] IPersistentState<IngestSubmissionState> state) : Grain, IIngestSubmissionGrain
{
    public async Task Stage(IngestJobRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Stored with arrays: a caller's list type may not be readable after a restart.
        state.State.Request = request with { Inputs = request.Inputs.ToArray() };
        await state.WriteStateAsync();
    }

    public Task<IngestJobRequest?> Get() => Task.FromResult(state.State.Request);
}
