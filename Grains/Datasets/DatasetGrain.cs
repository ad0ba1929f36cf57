using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Platform.Datasets;
using Platform.Grains.Work;
using Polly;

namespace Platform.Grains.Datasets;

/// <summary>Summary of a dataset kept in grain state; the shard list itself lives in <see cref="DatasetManifestStore"/>.</summary>
[GenerateSerializer]
public sealed class DatasetState
{
    [Id(0)] public int ShardCount { get; set; }
    [Id(1)] public long SampleCount { get; set; }
    [Id(2)] public long SizeBytes { get; set; }
    [Id(3)] public DateTimeOffset? LastCommitAt { get; set; }
    /// <summary>The first shard number no job has reserved yet.</summary>
    [Id(4)] public int NextShardNumber { get; set; }
    /// <summary>Each job's reserved numbers (first, count), so a retried job keeps its shard names.</summary>
    [Id(5)] public Dictionary<string, ShardNumbers> Reservations { get; set; } = new(StringComparer.Ordinal);
}

[GenerateSerializer, Immutable]
public sealed record ShardNumbers([property: Id(0)] int First, [property: Id(1)] int Count);

public sealed class DatasetGrain(
    [PersistentState("dataset", PlatformStorage.GrainStateProvider)] IPersistentState<DatasetState> state,
    DatasetManifestStore manifests,
    IOptions<StorageRetryOptions> storageRetry,
    ILogger<DatasetGrain> logger) : Grain, IDatasetGrain
{
    // A storage outage is waited out (with a ceiling) rather than failing the shard writer's attempt that wanted the commit.
    private readonly ResiliencePipeline manifestAppends = StorageRetry.Pipeline(storageRetry.Value, logger, "Appending to a dataset's manifest");
    private readonly ResiliencePipeline stateWrites = StorageRetry.Pipeline(storageRetry.Value, logger, "Writing a dataset's summary");

    private List<ShardEntry>? _shards;
    private Dictionary<string, ShardEntry>? _byId;
    private ManifestTail _tail = new(0, 0);

    private string Dataset => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        DatasetNames.Validate(Dataset);
        // Reading the manifest on activation also repairs a summary left behind by a crash
        // between a manifest append and the state write.
        await LoadAsync();
    }

    public async Task<ShardAddResult> AddShard(ShardEntry shard)
    {
        var result = await AddShards([shard]);
        return result.Added == 1 ? ShardAddResult.Added
            : result.ConflictingShardIds.Count == 1 ? ShardAddResult.ConflictingChecksum
            : ShardAddResult.AlreadyPresent;
    }

    public async Task<ShardBatchResult> AddShards(IReadOnlyList<ShardEntry> shards)
    {
        foreach (var shard in shards) Validate(shard);
        var byId = await LoadAsync();

        var fresh = new List<ShardEntry>();
        var freshById = new Dictionary<string, ShardEntry>(StringComparer.Ordinal);
        var alreadyPresent = 0;
        var conflicts = new List<string>();
        foreach (var shard in shards)
        {
            var existing = byId.GetValueOrDefault(shard.ShardId) ?? freshById.GetValueOrDefault(shard.ShardId);
            if (existing is null)
            {
                fresh.Add(shard);
                freshById.Add(shard.ShardId, shard);
            }
            else if (string.Equals(existing.Checksum, shard.Checksum, StringComparison.OrdinalIgnoreCase))
                alreadyPresent++;
            else
                conflicts.Add(shard.ShardId);
        }

        if (fresh.Count > 0)
        {
            // On disk first where the storage may lose its latest writes in a crash: the host adds the journaled shards again at start.
            if (ServiceProvider.GetService<IShardCommitJournal>() is { } journal)
                await journal.AppendAsync(Dataset, fresh);
            // The blob is the record of truth: append first, then update the summary. A crash in
            // between leaves a summary that activation recomputes from the manifest. A retried append may
            // repeat lines, which readers skip; the tail then undercounts its segment, which only delays a rollover.
            var lines = fresh.Select(ToManifest).ToList();
            var tail = _tail;
            await manifestAppends.WriteOnGrainAsync(async token => tail = await manifests.AppendAsync(Dataset, tail, lines, token), this);
            _tail = tail;
            foreach (var shard in fresh)
            {
                _shards!.Add(shard);
                byId[shard.ShardId] = shard;
            }
            SetSummary(_shards!);
            await stateWrites.WriteStateAsync(state, this);
        }
        return new ShardBatchResult(fresh.Count, alreadyPresent, conflicts);
    }

    public async Task<IReadOnlyList<ShardEntry>> ListShards(int skip, int take)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfNegative(take);
        await LoadAsync();
        return _shards!.Skip(skip).Take(take).ToArray();
    }

    public async Task<ShardEntry?> GetShard(string shardId) =>
        (await LoadAsync()).GetValueOrDefault(shardId);

    public async Task<int> ReserveShardNumbers(string jobId, int count, int atLeast)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var reservations = state.State.Reservations;
        if (reservations.TryGetValue(jobId, out var reserved))
        {
            if (count <= reserved.Count) return reserved.First;
            // A rerun that cuts more shards may only grow a range nothing was reserved after.
            if (reserved.First + reserved.Count != state.State.NextShardNumber)
                throw new InvalidOperationException(
                    $"Job '{jobId}' reserved {reserved.Count} shard numbers of dataset '{Dataset}' from {reserved.First} and now needs {count}, but later jobs reserved the numbers after its range; run it again under a new job id.");
            reservations[jobId] = reserved with { Count = count };
            state.State.NextShardNumber = reserved.First + count;
            await stateWrites.WriteStateAsync(state, this);
            return reserved.First;
        }
        var afterCommitted = (await LoadAsync()).Keys
            .Select(id => int.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n + 1 : 0)
            .DefaultIfEmpty(0).Max();
        var first = Math.Max(Math.Max(state.State.NextShardNumber, afterCommitted), atLeast);
        reservations[jobId] = new ShardNumbers(first, count);
        state.State.NextShardNumber = first + count;
        await stateWrites.WriteStateAsync(state, this);
        return first;
    }

    public Task<DatasetTotals> GetTotals() =>
        Task.FromResult(new DatasetTotals(Dataset, state.State.ShardCount, state.State.SampleCount, state.State.SizeBytes, state.State.LastCommitAt));

    private async Task<Dictionary<string, ShardEntry>> LoadAsync()
    {
        if (_byId is not null) return _byId;
        var contents = await manifests.ReadAsync(Dataset);
        _shards = contents.Entries.Select(FromManifest).ToList();
        _byId = _shards.ToDictionary(s => s.ShardId, StringComparer.Ordinal);
        _tail = contents.Tail;
        if (_shards.Count != state.State.ShardCount)
        {
            SetSummary(_shards);
            await stateWrites.WriteStateAsync(state, this);
        }
        return _byId;
    }

    private void SetSummary(List<ShardEntry> shards)
    {
        state.State.ShardCount = shards.Count;
        state.State.SampleCount = shards.Sum(s => s.SampleCount);
        state.State.SizeBytes = shards.Sum(s => s.SizeBytes);
        state.State.LastCommitAt = shards.Count == 0 ? null : shards.Max(s => s.CommittedAt);
    }

    private static ManifestShard ToManifest(ShardEntry s) => new(s.ShardId, s.SampleCount, s.SizeBytes, s.Checksum, s.Location, s.CommittedAt);

    private static ShardEntry FromManifest(ManifestShard s) => new(s.ShardId, s.SampleCount, s.SizeBytes, s.Checksum, s.Location, s.CommittedAt);

    private static void Validate(ShardEntry shard)
    {
        if (string.IsNullOrWhiteSpace(shard.ShardId)) throw new ArgumentException("A shard needs an id.");
        if (shard.SampleCount < 0) throw new ArgumentException($"Shard {shard.ShardId} has a negative sample count.");
        if (shard.SizeBytes < 0) throw new ArgumentException($"Shard {shard.ShardId} has a negative size.");
        if (string.IsNullOrWhiteSpace(shard.Checksum)) throw new ArgumentException($"Shard {shard.ShardId} has no checksum.");
    }
}
