using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Checkpoints;

namespace Platform.Grains.Evaluation;

/// <summary>
/// Scores one checkpoint on one task (key: <see cref="EvaluationKey.For"/>). Evaluation takes long,
/// so <see cref="Start"/> returns at once and callers poll <see cref="GetStatus"/>. Asking again
/// for a finished or running evaluation returns it as it is: nothing runs twice.
/// </summary>
public interface IEvaluationGrain : IGrainWithStringKey
{
    Task<EvaluationStatus> Start(EvaluationRequest request);

    Task<EvaluationStatus> GetStatus();
}

/// <summary>Where the task's data is and how to score; the checkpoint and task come from the grain key.</summary>
[GenerateSerializer, Immutable]
public sealed record EvaluationRequest
{
    /// <summary>Evaluation data folder, readable by every silo (see EvaluationDataLayout).</summary>
    [Id(0)] public required string DataRoot { get; init; }

    /// <summary>The training run the checkpoint came from, for the leaderboard; null names it after the checkpoint's run folder.</summary>
    [Id(1)] public string? RunId { get; init; }

    [Id(2)] public string Split { get; init; } = "test";

    [Id(3)] public string Prompt { get; init; } = new CheckpointEvaluationOptions().Prompt;

    [Id(4)] public int BeamSize { get; init; } = 1;

    /// <summary>Fine-tuning steps on the train split before scoring; null scores the checkpoint as it is.</summary>
    [Id(5)] public int? FineTuneSteps { get; init; }

    [Id(6)] public double FineTuneLearningRate { get; init; } = new FineTuneOptions().LearningRate;

    [Id(7)] public int? MaxImages { get; init; }
}

public enum EvaluationPhase
{
    NotStarted,
    Running,
    Completed,
    Failed,
}

[GenerateSerializer, Immutable]
public sealed record EvaluationStatus(
    [property: Id(0)] EvaluationPhase Phase,
    [property: Id(1)] IReadOnlyDictionary<string, double> Scores,
    [property: Id(2)] string? PrimaryMetric,
    [property: Id(3)] double? PrimaryScore,
    [property: Id(4)] string OutputContainer,
    [property: Id(5)] IReadOnlyList<string> OutputBlobs,
    [property: Id(6)] string? Error,
    [property: Id(7)] DateTimeOffset? StartedAt,
    [property: Id(8)] DateTimeOffset? FinishedAt,
    [property: Id(9)] int Runs,
    [property: Id(10)] long Step,
    [property: Id(11)] string? RunId);

/// <summary>Evaluation grain keys: task name and checkpoint folder, "{task}|{full path}".</summary>
public static class EvaluationKey
{
    public static string For(string checkpoint, EvaluationTask task) =>
        $"{ResultsScoring.TaskName(task)}|{Path.TrimEndingDirectorySeparator(Path.GetFullPath(checkpoint))}";

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
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };
}
