using Platform.Grains.Evaluation;
using Platform.Grains.Training;

namespace Platform.Tests.Training;

public sealed class EvaluationCurveTests
{
    private static CheckpointEvaluationState Finished(int step, string task, double score) =>
        new() { Step = step, Task = task, Started = true, Phase = EvaluationPhase.Completed, PrimaryMetric = "CIDEr", PrimaryScore = score };

    [Fact]
    public void A_long_run_keeps_a_bounded_curve_per_task_with_its_newest_points_its_best_and_every_unfinished_evaluation()
    {
        var evaluations = new List<CheckpointEvaluationState>();
        const int Checkpoints = 5_000;
        const int BestStep = 700;
        for (int step = 1; step <= Checkpoints; step++)
        {
            foreach (var task in new[] { "coco-captions", "vqa" })
                evaluations.Add(step % 97 == 0
                    ? new CheckpointEvaluationState { Step = step, Task = task, Started = true, Phase = EvaluationPhase.Running }
                    : Finished(step, task, step == BestStep ? 9.0 : Math.Sin(step) * 0.5));
            EvaluationCurve.Thin(evaluations);
        }

        foreach (var task in new[] { "coco-captions", "vqa" })
        {
            var finished = evaluations.Where(e => e.Task == task && e.IsFinished).Select(e => e.Step).ToList();
            Assert.InRange(finished.Count, EvaluationCurve.RecentKept, EvaluationCurve.KeptPerTask);
            var newest = Enumerable.Range(1, Checkpoints).Where(s => s % 97 != 0).TakeLast(EvaluationCurve.RecentKept);
            Assert.Subset(finished.ToHashSet(), newest.ToHashSet());
            Assert.Contains(BestStep, finished);
            // The curve still reaches back to the start of the run, sparser there.
            Assert.True(finished.Min() < Checkpoints / 10, $"the oldest point kept is step {finished.Min()}");
            Assert.Equal(Enumerable.Range(1, Checkpoints).Where(s => s % 97 == 0),
                evaluations.Where(e => e.Task == task && !e.IsFinished).Select(e => e.Step));
        }
    }

    [Fact]
    public void A_curve_under_the_limit_is_left_as_it_is()
    {
        var evaluations = Enumerable.Range(1, EvaluationCurve.KeptPerTask).Select(step => Finished(step, "vqa", step)).ToList();
        Assert.False(EvaluationCurve.Thin(evaluations));
        Assert.Equal(EvaluationCurve.KeptPerTask, evaluations.Count);
    }
}
