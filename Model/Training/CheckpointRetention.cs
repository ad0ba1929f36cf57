namespace Platform.Model.Training;

/// <summary>
/// Which of a run's checkpoints may be deleted: all but the newest <c>keepLast</c>, those whose step is a multiple of
/// <c>keepEvery</c>, the latest one (a resume needs it) and those still being evaluated (the evaluator reads them).
/// <c>keepLast</c> 0 keeps everything, so a run that names no retention loses nothing.
/// </summary>
public static class CheckpointRetention
{
    /// <param name="steps">The steps of the checkpoints that still exist.</param>
    /// <param name="latestStep">The run's latest checkpoint: never deleted, whatever the other settings say.</param>
    /// <param name="unfinished">Steps whose evaluations have not all finished.</param>
    /// <returns>Steps to delete, ascending.</returns>
    public static IReadOnlyList<int> StepsToDelete(IEnumerable<int> steps, int keepLast, int keepEvery, int latestStep, IReadOnlySet<int> unfinished)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keepLast);
        ArgumentOutOfRangeException.ThrowIfNegative(keepEvery);
        if (keepLast == 0) return [];
        var newestFirst = steps.Distinct().OrderDescending().ToList();
        return newestFirst
            .Skip(keepLast)
            .Where(step => step != latestStep && !unfinished.Contains(step) && !(keepEvery > 0 && step % keepEvery == 0))
            .Order()
            .ToList();
    }
}
