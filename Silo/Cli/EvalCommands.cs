using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Datasets;
using Spectre.Console;

namespace Platform.Silo.Cli;

/// <summary>`platform eval`: scores a standard results file against a task's annotations.</summary>
public static class EvalCommands
{
    public static Command Create()
    {
        var results = new Option<string>("--results") { Description = "Results file: [{\"image_id\",\"caption\"}] for coco-captions, [{\"question_id\",\"answer\"}] for vqa." };
        var checkpoint = new Option<string>("--checkpoint") { Description = "Model checkpoint to generate results from (not available yet)." };
        var task = new Option<string>("--task") { Description = "coco-captions or vqa.", Required = true };
        var data = new Option<string>("--data") { Description = "Evaluation data folder: annotations/captions_{split}.json or annotations/karpathy_splits.json; annotations/vqa_questions_{split}.json + vqa_annotations_{split}.json.", Required = true };
        var split = new Option<string>("--split") { Description = "Split to score against.", DefaultValueFactory = _ => "test" };

        var command = new Command("eval", "Score results with the field's exact metrics (BLEU, ROUGE-L, CIDEr-D; VQA accuracy). The last output line is the scores as JSON.");
        foreach (var option in new Option[] { results, checkpoint, task, data, split })
            command.Options.Add(option);

        command.SetAction((ParseResult r, CancellationToken _) =>
        {
            var resultsPath = r.GetValue(results);
            if (r.GetValue(checkpoint) is not null)
            {
                Console.Error.WriteLine("eval --checkpoint is not available yet: scoring a checkpoint needs a trained SimVLM model and its decoder, which this build does not have. Write a results file and pass --results.");
                return Task.FromResult(2);
            }
            if (resultsPath is null)
            {
                Console.Error.WriteLine("eval needs --results FILE (or, later, --checkpoint).");
                return Task.FromResult(2);
            }
            try
            {
                var scores = ResultsScoring.ScoreFile(ResultsScoring.ParseTask(r.GetValue(task)!), resultsPath, r.GetValue(data)!, r.GetValue(split)!);
                Print(scores);
                return Task.FromResult(0);
            }
            catch (Exception e) when (e is FileNotFoundException or DatasetFormatException or ResultsMismatchException or ArgumentException)
            {
                Console.Error.WriteLine($"eval: {e.Message}");
                return Task.FromResult(1);
            }
        });
        return command;
    }

    static void Print(TaskScores scores)
    {
        if (scores.SkippedAnnotations.Count > 0)
        {
            Console.Error.WriteLine($"eval: skipped {scores.SkippedAnnotations.Count} unusable annotation record(s):");
            foreach (var group in scores.SkippedAnnotations.GroupBy(s => s.File))
                Console.Error.WriteLine($"  {group.Key}: {group.Count()} (first: record {group.First().Index}, {group.First().Reason})");
        }
        AnsiConsole.MarkupLine(Markup.Escape($"{ResultsScoring.TaskName(scores.Task)}, split {scores.Split}: {scores.Scored} scored of {scores.Annotated} annotated"));
        var table = new Table();
        table.AddColumn("Metric");
        table.AddColumn(new TableColumn("Score").RightAligned());
        foreach (var (name, value) in scores.Scores)
            table.AddRow(Markup.Escape(name), value.ToString("F4", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        Console.Out.WriteLine(JsonSerializer.Serialize(scores.Scores.ToDictionary(p => p.Key, p => p.Value)));
    }
}
