using Platform.Model.Training;

namespace Platform.Model.Tests;

public sealed class CheckpointDiscardTests : IDisposable
{
    private readonly string run = Directory.CreateTempSubdirectory("checkpoint-discard-").FullName;

    public void Dispose() => Directory.Delete(run, recursive: true);

    private void Save(int step) => Checkpoint.Save(run, step, folder => File.WriteAllText(Path.Combine(folder, Checkpoint.StateFile), "{}"));

    private string[] Folders() => [.. Directory.GetDirectories(run).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    [Fact]
    public void Discarding_after_a_step_makes_its_checkpoint_the_latest_and_deletes_only_the_newer_ones()
    {
        foreach (var step in new[] { 10, 20, 27 }) Save(step);

        Checkpoint.DiscardAfter(run, 20);

        Assert.Equal(Path.Combine(run, Checkpoint.FolderName(20)), Checkpoint.Latest(run));
        Assert.Equal([Checkpoint.FolderName(10), Checkpoint.FolderName(20)], Folders());
    }

    [Fact]
    public void Discarding_after_step_zero_leaves_no_checkpoint_so_the_run_starts_afresh()
    {
        Save(10);

        Checkpoint.DiscardAfter(run, 0);

        Assert.Null(Checkpoint.Latest(run));
        Assert.Empty(Folders());
    }

    [Fact]
    public void Discarding_in_a_folder_that_does_not_exist_changes_nothing()
    {
        var missing = Path.Combine(run, "never-saved");

        Checkpoint.DiscardAfter(missing, 0);

        Assert.False(Directory.Exists(missing));
    }
}
