namespace Platform.Grains.Evaluation;

/// <summary>
/// The scores of every evaluated checkpoint on one downstream task (key: task name, e.g.
/// `coco-captions`, `vqa`, `retrieval`, `snli-ve`, `nlvr2`, `nocaps`), best first by the task's primary metric.
/// </summary>
public interface ILeaderboardGrain : IGrainWithStringKey
{
    /// <summary>
    /// Records a checkpoint's scores; scoring the same checkpoint again replaces its entry. Only the best 1,000 entries are kept:
    /// one ranked below them is let go.
    /// </summary>
    Task Record(LeaderboardEntry entry);

    /// <summary>Entries best first (primary score descending; earlier on ties).</summary>
    Task<IReadOnlyList<LeaderboardEntry>> Ranking(int take);

    Task<LeaderboardEntry?> Get(string checkpointId);
}

[GenerateSerializer, Immutable]
public sealed record LeaderboardEntry(
    [property: Id(0)] string CheckpointId,
    [property: Id(1)] string RunId,
    [property: Id(2)] long Step,
    [property: Id(3)] string PrimaryMetric,
    [property: Id(4)] double PrimaryScore,
    [property: Id(5)] IReadOnlyDictionary<string, double> Scores,
    [property: Id(6)] DateTimeOffset ScoredAt);
