using Orleans.Runtime;

namespace Platform.Grains.Evaluation;

[GenerateSerializer]
public sealed class LeaderboardState
{
    [Id(0)] public Dictionary<string, LeaderboardEntry> Entries { get; set; } = new(StringComparer.Ordinal);
}

public sealed class LeaderboardGrain(
    [PersistentState("leaderboard", PlatformStorage.GrainStateProvider)] IPersistentState<LeaderboardState> state) : Grain, ILeaderboardGrain
{
    public async Task Record(LeaderboardEntry entry)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(entry.CheckpointId);
        ArgumentException.ThrowIfNullOrWhiteSpace(entry.PrimaryMetric);
        if (!double.IsFinite(entry.PrimaryScore))
            throw new ArgumentException($"Checkpoint {entry.CheckpointId}: the primary score {entry.PrimaryScore} is not a finite number.");
        state.State.Entries[entry.CheckpointId] = entry;
        await state.WriteStateAsync();
    }

    public Task<IReadOnlyList<LeaderboardEntry>> Ranking(int take)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(take);
        IReadOnlyList<LeaderboardEntry> ranking = state.State.Entries.Values
            .OrderByDescending(e => e.PrimaryScore)
            .ThenBy(e => e.ScoredAt)
            .ThenBy(e => e.CheckpointId, StringComparer.Ordinal)
            .Take(take)
            .ToArray();
        return Task.FromResult(ranking);
    }

    public Task<LeaderboardEntry?> Get(string checkpointId) =>
        Task.FromResult(state.State.Entries.GetValueOrDefault(checkpointId));
}
