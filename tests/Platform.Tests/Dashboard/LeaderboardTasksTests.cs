using Platform.Model.Evaluation;

namespace Platform.Tests.Dashboard;

public sealed class LeaderboardTasksTests
{
    /// <summary>The page reads one leaderboard grain per name it knows: a task missing from its list is scored and recorded but never shown.</summary>
    [Fact]
    public void The_leaderboard_page_reads_the_board_of_every_task_the_evaluation_library_scores() =>
        Assert.Equal(ResultsScoring.TaskNames.Order(StringComparer.Ordinal), Platform.Dashboard.Components.Pages.Leaderboard.Tasks.Order(StringComparer.Ordinal));
}
