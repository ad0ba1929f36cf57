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

    [Fact]
    public async Task The_board_keeps_only_its_best_entries_so_its_state_stays_bounded_however_many_checkpoints_are_scored()
    {
        var board = shared.Grains.GetGrain<ILeaderboardGrain>("bounded-" + Guid.NewGuid().ToString("N"));
        int recorded = LeaderboardGrain.MaxEntries + 60;
        // Scores in a scrambled order, so that the entries let go are not simply the first or the last recorded.
        for (int i = 0; i < recorded; i++)
            await board.Record(Entry($"r-{i:D5}", (i * 7919 % recorded) / (double)recorded, i));

        var ranking = await board.Ranking(recorded);
        Assert.Equal(LeaderboardGrain.MaxEntries, ranking.Count);
        var expected = Enumerable.Range(0, recorded).OrderByDescending(i => i * 7919 % recorded).Take(LeaderboardGrain.MaxEntries)
            .Select(i => $"r-{i:D5}");
        Assert.Equal(expected, ranking.Select(e => e.CheckpointId));
        var worst = Enumerable.Range(0, recorded).MinBy(i => i * 7919 % recorded);
        Assert.Null(await board.Get($"r-{worst:D5}"));

        // A new best enters and lets the lowest kept entry go; a score too low to be among them is not kept.
        await board.Record(Entry("best", 2.0, recorded));
        await board.Record(Entry("too-low", -1.0, recorded + 1));
        ranking = await board.Ranking(recorded);
        Assert.Equal(LeaderboardGrain.MaxEntries, ranking.Count);
        Assert.Equal("best", ranking[0].CheckpointId);
        Assert.Null(await board.Get("too-low"));
    }
}
