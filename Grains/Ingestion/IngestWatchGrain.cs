namespace Platform.Grains.Ingestion;

[GenerateSerializer]
public sealed class IngestWatchState
{
    [Id(0)] public Dictionary<string, WatchedFile> Files { get; set; } = new(StringComparer.Ordinal);
    [Id(1)] public long Scans { get; set; }
    [Id(2)] public DateTimeOffset? LastScan { get; set; }
}

/// <summary>Claims are written before they are returned, so a claim handed out is never forgotten by a restart.</summary>
public sealed class IngestWatchGrain(
    [PersistentState("ingestwatch", PlatformStorage.GrainStateProvider)] IPersistentState<IngestWatchState> state) : Grain, IIngestWatchGrain
{
    public async Task<IReadOnlyList<WatchedFile>> Claim(IReadOnlyList<DroppedFile> files)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var file in files)
        {
            if (state.State.Files.ContainsKey(file.RelativePath)) continue;
            state.State.Files[file.RelativePath] = new WatchedFile(file.RelativePath, file.SizeBytes, file.LastWriteUtc,
                IngestSubmissions.WatchedFileJobId(this.GetPrimaryKeyString(), file.RelativePath), now, Submitted: false);
        }
        state.State.Scans++;
        state.State.LastScan = now;
        await state.WriteStateAsync();
        return state.State.Files.Values.Where(f => !f.Submitted).OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList();
    }

    public async Task MarkSubmitted(IReadOnlyList<string> relativePaths)
    {
        var changed = false;
        foreach (var path in relativePaths)
        {
            if (state.State.Files.TryGetValue(path, out var file) && !file.Submitted)
            {
                state.State.Files[path] = file with { Submitted = true };
                changed = true;
            }
        }
        if (changed) await state.WriteStateAsync();
    }

    public Task<IngestWatchStatus> GetStatus() => Task.FromResult(new IngestWatchStatus(this.GetPrimaryKeyString(),
        state.State.Files.Values.OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList(), state.State.Scans, state.State.LastScan));
}
