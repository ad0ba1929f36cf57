using CsCheck;
using Platform.Model.Training;

namespace Platform.Model.Tests;

public sealed class CheckpointRetentionTests
{
    private static readonly IReadOnlySet<int> NoneUnfinished = new HashSet<int>();

    [Fact]
    public void KeepLastZeroKeepsEveryCheckpoint() =>
        Assert.Empty(CheckpointRetention.StepsToDelete([100, 200, 300, 400], keepLast: 0, keepEvery: 0, latestStep: 400, NoneUnfinished));

    [Fact]
    public void KeepsTheNewestKeepLastAndEveryMultipleOfKeepEvery()
    {
        int[] steps = [100, 200, 300, 400, 500, 600, 700];
        Assert.Equal([100, 300, 500], CheckpointRetention.StepsToDelete(steps, keepLast: 2, keepEvery: 200, latestStep: 700, NoneUnfinished));
        Assert.Equal([100, 200, 300, 400, 500], CheckpointRetention.StepsToDelete(steps, keepLast: 2, keepEvery: 0, latestStep: 700, NoneUnfinished));
    }

    [Fact]
    public void TheLatestAndTheUnfinishedAreKeptWhateverThePolicySays()
    {
        // After a resume from an older checkpoint the latest is not the highest step the run ever saved.
        int[] steps = [100, 200, 300, 400];
        Assert.Equal([100, 300], CheckpointRetention.StepsToDelete(steps, keepLast: 1, keepEvery: 0, latestStep: 200, new HashSet<int>()));
        Assert.Equal([300], CheckpointRetention.StepsToDelete(steps, keepLast: 1, keepEvery: 0, latestStep: 200, new HashSet<int> { 100 }));
    }

    [Fact]
    public void NoPolicyEverDeletesAKeptCheckpointAndEveryOtherIsDeleted()
    {
        Gen.Select(Gen.Int[1, 60].HashSet[0, 30], Gen.Int[0, 5], Gen.Int[0, 7], Gen.Int[1, 60].HashSet[0, 10]).Sample((steps, keepLast, keepEvery, unfinished) =>
        {
            int latest = steps.Count == 0 ? 0 : steps.Max();
            var deleted = CheckpointRetention.StepsToDelete(steps, keepLast, keepEvery, latest, unfinished);
            var newest = steps.OrderDescending().Take(keepLast).ToHashSet();
            foreach (int step in steps)
            {
                bool kept = keepLast == 0 || newest.Contains(step) || step == latest || unfinished.Contains(step) || (keepEvery > 0 && step % keepEvery == 0);
                Assert.Equal(!kept, deleted.Contains(step));
            }
            Assert.Equal(deleted.Order(), deleted);
            Assert.All(deleted, step => Assert.Contains(step, steps));
        });
    }
}
