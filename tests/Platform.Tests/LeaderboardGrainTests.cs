using Platform.Grains.Evaluation;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

[Collection(SharedClusterCollection.Name)]
public sealed class LeaderboardGrainTests(SharedClusterFixture shared)
{
    private static LeaderboardEntry Entry(string checkpoint, double cider, int minute) =>
        new(checkpoint, "run-" + checkpoint[..1], 100, "CIDEr", cider,
            new Dictionary<string, double> { ["CIDEr"] = cider, ["BLEU-4"] = cider / 4 }, DateTimeOffset.UnixEpoch.AddMinutes(minute));

    [Fact]
    public async Task Ranking_is_best_first_earlier_first_on_ties_and_rescoring_replaces_an_entry()
    {
        var board = shared.Grains.GetGrain<ILeaderboardGrain>("captions-" + Guid.NewGuid().ToString("N"));
        await board.Record(Entry("a-100", 0.50, 1));
        await board.Record(Entry("b-200", 0.90, 2));
        await board.Record(Entry("c-300", 0.50, 0));
        await board.Record(Entry("d-400", 0.10, 3));

        Assert.Equal(["b-200", "c-300", "a-100", "d-400"], (await board.Ranking(10)).Select(e => e.CheckpointId));
        Assert.Equal(["b-200", "c-300"], (await board.Ranking(2)).Select(e => e.CheckpointId));

        await board.Record(Entry("d-400", 1.20, 4));
        var ranking = await board.Ranking(10);
        Assert.Equal(4, ranking.Count);
        Assert.Equal("d-400", ranking[0].CheckpointId);
        Assert.Equal(0.30, (await board.Get("d-400"))!.Scores["BLEU-4"], 10);
    }

    [Fact]
    public async Task A_non_finite_score_is_refused()
    {
        var board = shared.Grains.GetGrain<ILeaderboardGrain>("nan-" + Guid.NewGuid().ToString("N"));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => board.Record(Entry("x-1", double.NaN, 0)));
        Assert.Empty(await board.Ranking(10));
    }
}
