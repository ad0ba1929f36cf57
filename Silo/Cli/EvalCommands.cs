using System.CommandLine;
using System.Globalization;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Checkpoints;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Evaluation.Retrieval;
using Spectre.Console;

namespace Platform.Silo.Cli;

/// <summary>`platform eval`: scores a standard results file, or a checkpoint, on a task's annotations.</summary>
public static class EvalCommands
{
    public static Command Create()
    {
        var defaults = new CheckpointEvaluationOptions();
        var fineTuneDefaults = new FineTuneOptions();
        var results = new Option<string>("--results") { Description = "Results file: [{\"image_id\",\"caption\"}] for coco-captions and nocaps, [{\"question_id\",\"answer\"}] for vqa, [{\"id\",\"prediction\"}] for snli-ve and nlvr2." };
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint folder (or run folder: its newest checkpoint) to generate and score outputs with." };
        var task = new Option<string>("--task") { Description = "coco-captions, vqa, retrieval, snli-ve, nlvr2 or nocaps (retrieval: --checkpoint only).", Required = true };
        var data = new Option<string>("--data") { Description = "Evaluation data folder: annotations/captions_{split}.json or annotations/karpathy_splits.json; annotations/vqa_questions_{split}.json + vqa_annotations_{split}.json; images/{split}/. The downloads' own names work too, in annotations/ or the folder itself: captions_{split}.json, dataset_coco.json, v2_OpenEnded_mscoco_{split}_questions.json + v2_mscoco_{split}_annotations.json, images in {split}/. snli-ve: snli_ve_{split}.jsonl, images in flickr30k-images/; nlvr2: {split}.json (JSON lines), images {split}-...-img0.png in images/{split}/, {split}/ or nlvr2/{split}/; nocaps: nocaps_{split}.json or nocaps_{split}_4500_captions.json.", Required = true };
        var split = new Option<string>("--split") { Description = "Split to score against.", DefaultValueFactory = _ => defaults.Split };
        var output = new Option<string>("--out") { Description = "Folder for scores.json and the per-item outputs (--checkpoint); default eval-{task}-{split} in the current folder." };
        var prompt = new Option<string>("--prompt") { Description = "Captioning prompt the caption continues; not part of the scored caption.", DefaultValueFactory = _ => defaults.Prompt };
        var beam = new Option<int>("--beam") { Description = "Beam size for captions and answers; 1 decodes greedily.", DefaultValueFactory = _ => defaults.BeamSize };
        var finetune = new Option<bool>("--finetune") { Description = "Fine-tune on the task's train split first (coco-captions, vqa, snli-ve, nlvr2; nocaps on the COCO captions' train split) with the paper's settings: AdamW, dropout 0.1." };
        var finetuneSteps = new Option<int>("--finetune-steps") { Description = "Fine-tuning steps.", DefaultValueFactory = _ => fineTuneDefaults.Steps };
        var finetuneLearningRate = new Option<double>("--finetune-lr") { Description = "Fine-tuning peak learning rate (the paper: 1e-5, 2e-5 or 5e-5).", DefaultValueFactory = _ => fineTuneDefaults.LearningRate };
        var maxImages = new Option<int?>("--max-images") { Description = "Score only the split's first N images (retrieval is quadratic in them)." };
        var finetuneDropout = new Option<double>("--finetune-dropout") { Description = "Dropout while fine-tuning (the paper: 0.1).", DefaultValueFactory = _ => fineTuneDefaults.Dropout };
        var finetuneDropPath = new Option<double>("--finetune-drop-path") { Description = "Drop-path (stochastic depth) rate on the conv stage and encoder while fine-tuning (the paper: 0.1).", DefaultValueFactory = _ => fineTuneDefaults.DropPath };
        var imageSize = new Option<int?>("--image-size") { Description = "Image side in pixels to fine-tune and evaluate at (a multiple of the patch size); the image positions are interpolated bicubically to the new grid. Default: the checkpoint's." };
        var batchSize = new Option<int>("--batch-size") { Description = "Images (captioning), questions (VQA), examples (SNLI-VE, NLVR2) or captions per image (retrieval) per forward pass.", DefaultValueFactory = _ => defaults.BatchSize };
        var pairScoring = new Option<string>("--retrieval-scoring") { Description = "Retrieval pair score: mean or sum of the text's token log-likelihoods given the image.", DefaultValueFactory = _ => "mean" };

        var command = new Command("eval", "Score results files or checkpoints with the field's exact metrics (BLEU, ROUGE-L, CIDEr-D; VQA accuracy; retrieval recall; SNLI-VE and NLVR2 accuracy; NoCaps CIDEr per domain). The last output line is the scores as JSON.");
        foreach (var option in new Option[] { results, checkpoint, task, data, split, output, prompt, beam, finetune, finetuneSteps, finetuneLearningRate, maxImages, pairScoring, finetuneDropout, finetuneDropPath, imageSize, batchSize })
            command.Options.Add(option);

        command.SetAction((ParseResult r, CancellationToken cancellationToken) =>
        {
            var resultsPath = r.GetValue(results);
            var checkpointPath = r.GetValue(checkpoint);
            if ((resultsPath is null) == (checkpointPath is null))
            {
                Console.Error.WriteLine("eval needs exactly one of --results FILE or --checkpoint DIR.");
                return Task.FromResult(2);
            }
            try
            {
                var evaluationTask = ResultsScoring.ParseTask(r.GetValue(task)!);
                if (resultsPath is not null)
                {
                    Print(ResultsScoring.ScoreFile(evaluationTask, resultsPath, r.GetValue(data)!, r.GetValue(split)!));
                    return Task.FromResult(0);
                }
                var options = new CheckpointEvaluationOptions
                {
                    Split = r.GetValue(split)!,
                    Prompt = r.GetValue(prompt)!,
                    BeamSize = r.GetValue(beam),
                    MaxImages = r.GetValue(maxImages),
                    BatchSize = r.GetValue(batchSize),
                    RetrievalScoring = r.GetValue(pairScoring) switch
                    {
                        "mean" => PairScoring.MeanLogLikelihood,
                        "sum" => PairScoring.SumLogLikelihood,
                        var other => throw new ArgumentException($"--retrieval-scoring must be mean or sum, not '{other}'."),
                    },
                    FineTune = r.GetValue(finetune)
                        ? fineTuneDefaults with
                        {
                            Steps = r.GetValue(finetuneSteps),
                            LearningRate = r.GetValue(finetuneLearningRate),
                            Dropout = r.GetValue(finetuneDropout),
                            DropPath = r.GetValue(finetuneDropPath),
                        }
                        : null,
                    ImageSize = r.GetValue(imageSize),
                };
                var evaluation = CheckpointEvaluator.Run(checkpointPath!, evaluationTask, r.GetValue(data)!, options,
                    message => Console.Error.WriteLine($"eval: {message}"), cancellationToken);
                var folder = r.GetValue(output) ?? Path.GetFullPath($"eval-{ResultsScoring.TaskName(evaluationTask)}-{options.Split}");
                foreach (var problem in evaluation.Problems.Take(10))
                    Console.Error.WriteLine($"eval: skipped {problem}");
                if (evaluation.Problems.Count > 10) Console.Error.WriteLine($"eval: ... {evaluation.Problems.Count - 10} more problems, all listed in {EvaluationOutputFiles.ScoresFile}");
                foreach (var (name, value) in evaluation.Settings)
                    Console.Out.WriteLine($"{name}: {value}");
                foreach (var file in EvaluationOutputFiles.Write(folder, evaluation))
                    Console.Out.WriteLine($"wrote {file}");
                Print(evaluation.Scores);
                return Task.FromResult(0);
            }
            catch (Exception e) when (e is DatasetFormatException or ResultsMismatchException or InvalidOperationException || CommandInputErrors.IsInputError(e))
            {
                return Task.FromResult(CommandInputErrors.Report("eval", e));
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
        Console.Out.WriteLine(EvaluationOutputFiles.ScoresJson(scores));
    }
}
