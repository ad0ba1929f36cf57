using System.Diagnostics;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Checkpoints;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Training;
using static TorchSharp.torch;

namespace Platform.Evaluation.Tests;

/// <summary>Checkpoints scored on SNLI-VE, NLVR2 and NoCaps through the same evaluator as captioning and VQA.</summary>
public sealed class TaskCheckpointTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private (string Data, string Untrained) UntrainedModel()
    {
        set_num_threads(1);
        string data = Path.Combine(folder.Path, "data");
        BenchmarkGenerator.Generate(data, TinyBenchmarkModel.Benchmark(), TestContext.Current.CancellationToken);
        return (data, TinyBenchmarkModel.Checkpoint(data, Path.Combine(folder.Path, "run"), steps: 0, allTasks: true));
    }

    private static CheckpointEvaluation Run(string checkpoint, EvaluationTask task, string data, CheckpointEvaluationOptions options) =>
        Task.Factory.StartNew(() => CheckpointEvaluator.Run(checkpoint, task, data, options, cancellationToken: TestContext.Current.CancellationToken),
                TestContext.Current.CancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            .GetAwaiter().GetResult();

    private static double Score(CheckpointEvaluation evaluation, string metric) => evaluation.Scores.Scores.Single(s => s.Key == metric).Value;

    [Fact]
    public void Snli_ve_accuracy_rises_when_the_checkpoint_is_fine_tuned_on_its_train_split()
    {
        var clock = Stopwatch.StartNew();
        var (data, untrained) = UntrainedModel();
        var before = Run(untrained, EvaluationTask.SnliVe, data, new CheckpointEvaluationOptions());
        var after = Run(untrained, EvaluationTask.SnliVe, data, new CheckpointEvaluationOptions
        {
            FineTune = new FineTuneOptions { Steps = 120, LearningRate = 1e-3, Dropout = 0.0, DropPath = 0.0, SamplesPerStep = 16, WarmupFraction = 0.05, Device = "cpu", Seed = 5 },
        });
        TestContext.Current.SendDiagnosticMessage($"SNLI-VE accuracy {Score(before, "accuracy")} -> {Score(after, "accuracy")} in {clock.Elapsed.TotalSeconds:F0}s");
        Assert.Equal(45, after.Scores.Scored); // 15 test images, three hypotheses each
        Assert.All(after.Labels!, l => Assert.Contains(l.Prediction, DatasetReaders.SnliVeLabels));
        // Seeded and deterministic (measured: 40 -> 66.7; a constant label scores 33.3, the text alone tells "neutral" apart).
        Assert.True(Score(after, "accuracy") > Score(before, "accuracy") + 15, $"fine-tuned {Score(after, "accuracy")} vs untrained {Score(before, "accuracy")}");
    }

    [Fact]
    public void Nlvr2_reads_both_images_into_one_prefix_and_predicts_every_statement()
    {
        var (data, untrained) = UntrainedModel();
        var evaluation = Run(untrained, EvaluationTask.Nlvr2, data, new CheckpointEvaluationOptions());
        var examples = ResultsScoring.ReadLabelledSplit(EvaluationTask.Nlvr2, data, "test").Examples;
        Assert.Equal(examples.Select(e => e.Id), evaluation.Labels!.Select(l => l.Id));
        Assert.All(evaluation.Labels!, l => Assert.Contains(l.Prediction, DatasetReaders.Nlvr2Labels));
        Assert.Empty(evaluation.Problems);
        Assert.InRange(Score(evaluation, "accuracy"), 0, 100);

        // The prefix holds both images: its length is twice one image's tokens and the statement, and the right image changes the scores.
        var (model, tokenizer) = Checkpoint.LoadForInference(Checkpoint.ResolveFolder(untrained));
        using (model)
        {
            var task = new TaskData(data, model.Config, tokenizer);
            var folders = task.LabelledImageFolders(EvaluationTask.Nlvr2, "test");
            Tensor Pixels(string name) => tensor(task.LoadNamedImage(name, folders).Pixels!, [1, 3, model.Config.ImageSize, model.Config.ImageSize]);
            var example = examples[0];
            var other = examples.First(e => e.Images[1] != example.Images[1]);
            int[] prompt = task.Prompt(example.Text, 8);
            int[][] labels = [.. DatasetReaders.Nlvr2Labels.Select(label => task.TargetIds(prompt, label))];
            double[] ScoresWith(string right)
            {
                using var scope = NewDisposeScope();
                var (encoded, valid) = LabelLikelihood.EncodeImagesWithPrompt(model, [Pixels(example.Images[0]), Pixels(right)], [prompt]);
                Assert.Equal(2 * (model.Config.ImageTokens + prompt.Length), encoded.shape[1]);
                return LabelLikelihood.Scores(model, encoded, valid, [prompt.Length], labels)[0];
            }
            Assert.NotEqual(ScoresWith(example.Images[1]), ScoresWith(other.Images[1]));
        }
    }

    [Fact]
    public void Nlvr2_fine_tuning_on_image_pairs_lowers_the_loss_and_beats_chance()
    {
        var (data, untrained) = UntrainedModel();
        var after = Run(untrained, EvaluationTask.Nlvr2, data, new CheckpointEvaluationOptions
        {
            FineTune = new FineTuneOptions { Steps = 120, LearningRate = 1e-3, Dropout = 0.0, DropPath = 0.0, SamplesPerStep = 16, WarmupFraction = 0.05, Device = "cpu", Seed = 5 },
        });
        var labels = ResultsScoring.ReadLabelledSplit(EvaluationTask.Nlvr2, data, "test").Examples.Select(e => e.Label).ToArray();
        // Every pair has one true and one false statement, so a constant answer scores 50.
        Assert.Equal(labels.Length / 2, labels.Count(l => l == "true"));
        Assert.Equal(120, after.FineTune!.Steps);
        Assert.True(after.FineTune.LastLoss < after.FineTune.FirstLoss / 4, $"loss {after.FineTune.FirstLoss} -> {after.FineTune.LastLoss}");
        // Seeded and deterministic (measured: 80 on 30 statements, loss 4.6 -> 0.41).
        Assert.True(Score(after, "accuracy") >= 65, $"fine-tuned NLVR2 accuracy {Score(after, "accuracy")}");
    }

    [Fact]
    public void NoCaps_scores_a_checkpoint_overall_and_per_domain_after_fine_tuning_on_coco()
    {
        var (data, untrained) = UntrainedModel();
        var evaluation = Run(untrained, EvaluationTask.NoCaps, data, new CheckpointEvaluationOptions
        {
            Prompt = "",
            FineTune = new FineTuneOptions { Steps = 40, LearningRate = 1e-3, Dropout = 0.0, DropPath = 0.0, SamplesPerStep = 16, WarmupFraction = 0.05, Device = "cpu", Seed = 5 },
        });
        var names = evaluation.Scores.Scores.Select(s => s.Key).ToArray();
        Assert.Contains("CIDEr", names);
        var domains = ResultsScoring.ReadNoCapsReferences(data, "test").Domains!.Values.Distinct();
        Assert.All(domains, domain => Assert.Contains($"CIDEr_{domain}", names));
        Assert.Equal(15, evaluation.Captions!.Count);
        Assert.Equal(40, evaluation.FineTune!.Steps);
    }
}
