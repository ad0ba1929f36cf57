using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Model.Evaluation.Checkpoints;

/// <summary>
/// Writes an evaluation to a folder: scores.json (task, checkpoint, settings, scores) and the
/// per-item outputs, captions.json / answers.json in the standard results formats (so
/// `platform eval --results` re-scores them to the same numbers), predictions.json for SNLI-VE / NLVR2
/// ([{"id","prediction"}], re-scored the same way) or ranks.json for retrieval.
/// </summary>
public static class EvaluationOutputFiles
{
    public const string ScoresFile = "scores.json";
    public const string CaptionsFile = "captions.json";
    public const string AnswersFile = "answers.json";
    public const string RanksFile = "ranks.json";
    public const string PredictionsFile = "predictions.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The scores as one flat JSON object, in report order (the command's last output line).</summary>
    public static string ScoresJson(TaskScores scores) =>
        JsonSerializer.Serialize(scores.Scores.ToDictionary(p => p.Key, p => p.Value), new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals });

    /// <summary>Writes the files and returns their paths, scores.json first.</summary>
    public static IReadOnlyList<string> Write(string folder, CheckpointEvaluation evaluation)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        void WriteFile(string name, object value)
        {
            string path = Path.Combine(folder, name);
            File.WriteAllText(path, JsonSerializer.Serialize(value, Json));
            written.Add(path);
        }

        WriteFile(ScoresFile, new
        {
            Task = ResultsScoring.TaskName(evaluation.Task),
            evaluation.Checkpoint,
            evaluation.Step,
            evaluation.Scores.Split,
            evaluation.Scores.Scored,
            evaluation.Scores.Annotated,
            Scores = evaluation.Scores.Scores.ToDictionary(p => p.Key, p => p.Value),
            evaluation.Settings,
            evaluation.FineTune,
            evaluation.Problems,
        });
        if (evaluation.Captions is { } captions)
            WriteFile(CaptionsFile, captions.Select(c => new { ImageId = c.ImageId, c.Caption, c.FileName }));
        if (evaluation.Answers is { } answers)
            WriteFile(AnswersFile, answers.Select(a => new { a.QuestionId, a.Answer, a.ImageId, a.Question }));
        if (evaluation.Labels is { } labels)
            WriteFile(PredictionsFile, labels.Select(l => new { l.Id, l.Prediction, l.Label, l.Text, l.Images }));
        if (evaluation.Ranks is { } ranks)
            WriteFile(RanksFile, new { ImageToText = ranks.Images, TextToImage = ranks.Texts });
        return written;
    }
}
