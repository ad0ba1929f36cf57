using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Platform.Grains.Work;

namespace Platform.Grains.Ingestion;

/// <summary>Small and bounded: the files ever claimed grow with the folder's life, so they live in pages of their own (<see cref="PagedRows{TRow}"/>).</summary>
[GenerateSerializer]
public sealed class IngestWatchState
{
    [Id(1)] public long Scans { get; set; }
    [Id(2)] public DateTimeOffset? LastScan { get; set; }
    [Id(3)] public PagedRowsHead FileRows { get; set; } = new();
}

/// <summary>Claims are written before they are returned, so a claim handed out is never forgotten by a restart.</summary>
public sealed class IngestWatchGrain(
    [PersistentState("ingestwatch", PlatformStorage.GrainStateProvider)] IPersistentState<IngestWatchState> state) : Grain, IIngestWatchGrain
{
    /// <summary>Claimed files per stored page: a page stays far below Azure Table's entity limit.</summary>
    public const int FilesPerPage = 400;

    private PagedRows<WatchedFile> files = null!;
    private readonly Dictionary<string, int> positions = new(StringComparer.Ordinal);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A claimed file never changes but for its submitted flag: the record itself is its fingerprint.
        files = new PagedRows<WatchedFile>(ServiceProvider.GetRequiredKeyedService<IGrainStorage>(PlatformStorage.GrainStateProvider), this.GetGrainId(),
            "ingestwatch-files", state.State.FileRows, FilesPerPage, file => file);
        await files.LoadAsync();
        for (var i = 0; i < files.Items.Count; i++) positions[files.Items[i].RelativePath] = i;
    }

    public async Task<IReadOnlyList<WatchedFile>> Claim(IReadOnlyList<DroppedFile> files)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var file in files)
        {
            if (positions.ContainsKey(file.RelativePath)) continue;
            positions[file.RelativePath] = this.files.Items.Count;
            this.files.Items.Add(new WatchedFile(file.RelativePath, file.SizeBytes, file.LastWriteUtc,
                IngestSubmissions.WatchedFileJobId(this.GetPrimaryKeyString(), file.RelativePath), now, Submitted: false));
        }
        state.State.Scans++;
        state.State.LastScan = now;
        await SaveAsync();
        return this.files.Items.Where(f => !f.Submitted).OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList();
    }

    public async Task MarkSubmitted(IReadOnlyList<string> relativePaths)
    {
        var changed = false;
        foreach (var path in relativePaths)
        {
            if (positions.TryGetValue(path, out var position) && files.Items[position] is { Submitted: false } file)
            {
                files.Items[position] = file with { Submitted = true };
                changed = true;
            }
        }
        if (changed) await SaveAsync();
    }

    public Task<IngestWatchStatus> GetStatus() => Task.FromResult(new IngestWatchStatus(this.GetPrimaryKeyString(),
        files.Items.OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList(), state.State.Scans, state.State.LastScan));

    /// <summary>The changed pages first, then the state that counts them.</summary>
    private async Task SaveAsync()
    {
        await files.WriteAsync();
        await state.WriteStateAsync();
    }
}
