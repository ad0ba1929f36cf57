using CsCheck;
using Platform.Grains.Training;

namespace Platform.Tests.Training;

public sealed class StepHistoryTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A step's metrics; <paramref name="attempt"/> marks which attempt took it, so lost values can be told from redone ones.</summary>
    private static TrainingStepRecord Record(int step, int attempt = 1) =>
        new(step, Loss: step + attempt / 10.0, LearningRate: 1e-3, GradientNorm: 1, TokensPerSecond: 100, Mfu: null,
            StepSeconds: 1, DataSeconds: 0.1, ForwardSeconds: 0.4, BackwardSeconds: 0.4, OptimizerSeconds: 0.1, FinishedAt: Start.AddSeconds(step));

    /// <summary>Adds steps <paramref name="from"/>..<paramref name="to"/> in batches of <paramref name="batch"/>, as trainers report them.</summary>
    private static void AddSteps(StepHistory history, int from, int to, int batch, int attempt = 1)
    {
        for (int first = from; first <= to; first += batch)
            history.Add(Enumerable.Range(first, Math.Min(batch, to - first + 1)).Select(step => Record(step, attempt)).ToArray());
    }

    [Fact]
    public void However_long_the_run_the_history_is_bounded_ascending_keeps_the_first_step_and_every_step_of_the_recent_window()
    {
        Gen.Select(Gen.Int[1, 30], Gen.Int[2, 30], Gen.Int[0, 600], Gen.Int[1, 25]).Sample((recent, older, steps, batch) =>
        {
            var history = new StepHistory(recent, older);
            AddSteps(history, 1, steps, batch);
            var points = history.Points.Select(p => p.Step).ToArray();

            Assert.True(points.Length <= recent + older, $"{points.Length} points for {recent} recent and {older} older");
            Assert.Equal(points.Order().Distinct(), points);
            if (steps == 0) { Assert.Empty(points); return; }
            Assert.Equal(1, points[0]);
            Assert.Equal(Enumerable.Range(Math.Max(1, steps - recent + 1), Math.Min(steps, recent)), points.Where(p => p > steps - recent));
            // Older points are evenly spaced: multiples of the stride.
            Assert.All(points.Skip(1).Where(p => p <= steps - recent), p => Assert.Equal(0, p % history.Stride));
        });
    }

    [Fact]
    public void Older_points_are_downsampled_evenly_not_dropped_from_one_end()
    {
        var history = new StepHistory(recentSteps: 10, olderPoints: 10);
        AddSteps(history, 1, 1000, batch: 7);
        var older = history.Points.Where(p => p.Step <= 990).Select(p => p.Step).ToArray();
        Assert.InRange(older.Length, 5, 10);
        Assert.True(older[^1] - older[1] >= 500, $"older points {string.Join(",", older)} should span the run");
        Assert.Single(older.Skip(1).Zip(older.Skip(2), (a, b) => b - a).Distinct());
    }

    [Fact]
    public void A_step_reported_again_is_kept_once_with_its_first_values()
    {
        var history = new StepHistory(recentSteps: 5, olderPoints: 5);
        history.Add([Record(1), Record(2)]);
        history.Add([Record(2, attempt: 2), Record(3)]);
        Assert.Equal([1, 2, 3], history.Points.Select(p => p.Step));
        Assert.Equal(Record(2), history.Points[1]);
    }

    [Fact]
    public void Truncating_and_refilling_past_the_lost_steps_equals_never_having_taken_them()
    {
        Gen.Select(Gen.Int[1, 30], Gen.Int[2, 30], Gen.Int[1, 400], Gen.Double[0, 1], Gen.Int[0, 200], Gen.Int[1, 20]).Sample((recent, older, lost, at, beyond, batch) =>
        {
            int resumedFrom = (int)(at * lost), end = lost + beyond;
            var resumed = new StepHistory(recent, older);
            AddSteps(resumed, 1, lost, batch);
            resumed.TruncateAfter(resumedFrom);
            Assert.DoesNotContain(resumed.Points, p => p.Step > resumedFrom);
            AddSteps(resumed, resumedFrom + 1, end, batch, attempt: 2);

            var uninterrupted = new StepHistory(recent, older);
            AddSteps(uninterrupted, 1, resumedFrom, batch);
            AddSteps(uninterrupted, resumedFrom + 1, end, batch, attempt: 2);

            Assert.Equal(uninterrupted.Points, resumed.Points);
            Assert.Equal(uninterrupted.Stride, resumed.Stride);
        });
    }

    [Fact]
    public void A_saved_history_loads_back_unchanged()
    {
        var history = new StepHistory(recentSteps: 8, olderPoints: 6);
        AddSteps(history, 1, 333, batch: 20);
        var loaded = new StepHistory(8, 6, history.Points, history.Stride);
        Assert.Equal(history.Points, loaded.Points);
        Assert.Equal(history.Stride, loaded.Stride);
    }
}
