namespace Platform.Grains.Training;

/// <summary>
/// A run's evaluation curve at bounded cost: one record per checkpoint and task would grow the run's record past Azure Table's
/// 1 MB entity limit on a long run (a million steps with a checkpoint every hundred). Per task, at most <see cref="KeptPerTask"/>
/// finished evaluations stay: the newest <see cref="RecentKept"/>, the best score, and older ones thinned by half each time the
/// task reaches the limit, so the older the part of the curve, the sparser it is. Unfinished evaluations are never dropped.
/// </summary>
public static class EvaluationCurve
{
    public const int KeptPerTask = 200;
    public const int RecentKept = 50;

    /// <summary>Drops finished evaluations of any task above <see cref="KeptPerTask"/>; true when it dropped any.</summary>
    public static bool Thin(List<CheckpointEvaluationState> evaluations)
    {
        var dropped = new HashSet<CheckpointEvaluationState>();
        foreach (var task in evaluations.Where(e => e.IsFinished).GroupBy(e => e.Task, StringComparer.Ordinal))
        {
            var finished = task.OrderBy(e => e.Step).ToList();
            if (finished.Count <= KeptPerTask) continue;
            var best = finished.Where(e => e.PrimaryScore is not null).MaxBy(e => e.PrimaryScore);
            var older = finished.Take(finished.Count - RecentKept);
            // Every second older one, the first kept: thinning again later halves what is left, as the step history's stride does.
            dropped.UnionWith(older.Where((evaluation, index) => index % 2 == 1 && evaluation != best));
        }
        return evaluations.RemoveAll(dropped.Contains) > 0;
    }
}
