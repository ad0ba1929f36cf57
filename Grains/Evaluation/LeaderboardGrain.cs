using Orleans.Runtime;

namespace Platform.Grains.Evaluation;

[GenerateSerializer]
public sealed class LeaderboardState
{
    [Id(0)] public Dictionary<string, LeaderboardEntry> Entries { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Keeps the best <see cref="MaxEntries"/> entries: every evaluated checkpoint of every run adds one, and a state that grew with
/// them would pass Azure Table's 1 MB entity limit after a few thousand checkpoints. An entry ranked below that many others can
/// never be shown among the best, so it is the one let go.
/// </summary>
public sealed class LeaderboardGrain(
    [PersistentState("leaderboard", PlatformStorage.GrainStateProvider)] IPersistentState<LeaderboardState> state) : Grain, ILeaderboardGrain
{
    /// <summary>About 200 bytes an entry: a few hundred kilobytes of state at most.</summary>
    public const int MaxEntries = 1_000;

    public async Task Record(LeaderboardEntry entry)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(entry.CheckpointId);
        ArgumentException.ThrowIfNullOrWhiteSpace(entry.PrimaryMetric);
        if (!double.IsFinite(entry.PrimaryScore))
            throw new ArgumentException($"Checkpoint {entry.CheckpointId}: the primary score {entry.PrimaryScore} is not a finite number.");
        state.State.Entries[entry.CheckpointId] = entry;
        if (state.State.Entries.Count > MaxEntries)
            foreach (var dropped in Ranked().Skip(MaxEntries).ToArray()) state.State.Entries.Remove(dropped.CheckpointId);
        await state.WriteStateAsync();
    }

    public Task<IReadOnlyList<LeaderboardEntry>> Ranking(int take)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(take);
        IReadOnlyList<LeaderboardEntry> ranking = Ranked().Take(take).ToArray();
        return Task.FromResult(ranking);
    }

    private IEnumerable<LeaderboardEntry> Ranked() => state.State.Entries.Values
        .OrderByDescending(e => e.PrimaryScore)
        .ThenBy(e => e.ScoredAt)
        .ThenBy(e => e.CheckpointId, StringComparer.Ordinal);

    public Task<LeaderboardEntry?> Get(string checkpointId) =>
        Task.FromResult(state.State.Entries.GetValueOrDefault(checkpointId));
}
