using Platform.Model.Evaluation;
using Platform.Model.Training;

namespace Platform.Grains.Evaluation;

/// <summary>Evaluation grain keys: task name and checkpoint folder, "{task}|{full path}" or "{task}|{blob URL of the step folder}".</summary>
public static class EvaluationKey
{
    public static string For(string checkpoint, EvaluationTask task) =>
        $"{ResultsScoring.TaskName(task)}|{(BlobCheckpointStore.IsBlobLocation(checkpoint) ? checkpoint.TrimEnd('/') : Path.TrimEndingDirectorySeparator(Path.GetFullPath(checkpoint)))}";

    public static (EvaluationTask Task, string Checkpoint) Parse(string key)
    {
        int bar = key.IndexOf('|', StringComparison.Ordinal);
        if (bar <= 0 || bar == key.Length - 1) throw new ArgumentException($"'{key}' is not an evaluation key: expected \"{{task}}|{{checkpoint folder}}\".");
        return (ResultsScoring.ParseTask(key[..bar]), key[(bar + 1)..]);
    }

    /// <summary>The score a task's leaderboard ranks by.</summary>
    public static string PrimaryMetric(EvaluationTask task) => task switch
    {
        EvaluationTask.CocoCaptions => "CIDEr",
        EvaluationTask.Vqa => "overall",
        EvaluationTask.Retrieval => "RSUM",
        EvaluationTask.SnliVe or EvaluationTask.Nlvr2 => "accuracy",
        EvaluationTask.NoCaps => "CIDEr",
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };
}
