using Platform.Model.Training;

namespace Platform.Model.Tests;

/// <summary>Publishing a checkpoint folder and the "latest" pointer, without a model.</summary>
public sealed class CheckpointPublishTests : IDisposable
{
    private readonly string run = Directory.CreateTempSubdirectory("checkpoint-publish-").FullName;

    public void Dispose() => Directory.Delete(run, recursive: true);

    private static void WriteState(string folder, string text) => File.WriteAllText(Path.Combine(folder, Checkpoint.StateFile), text);

    [Fact]
    public void Saving_a_step_whose_folder_is_left_over_from_an_earlier_attempt_replaces_that_folder()
    {
        string leftover = Path.Combine(run, Checkpoint.FolderName(5));
        Directory.CreateDirectory(leftover);
        File.WriteAllText(Path.Combine(leftover, Checkpoint.ModelFile), "cut sho");

        string saved = Checkpoint.Save(run, 5, folder => WriteState(folder, "{\"from\":\"this attempt\"}"));

        Assert.Equal(leftover, saved);
        Assert.Equal([Checkpoint.StateFile], Directory.EnumerateFiles(saved).Select(Path.GetFileName));
        Assert.Equal("{\"from\":\"this attempt\"}", File.ReadAllText(Path.Combine(saved, Checkpoint.StateFile)));
        Assert.Equal(saved, Checkpoint.Latest(run));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(run), entry => Path.GetFileName(entry).StartsWith('.'));
    }

    [Fact]
    public void Latest_passes_over_a_named_folder_without_its_state_to_the_newest_older_one_with_it()
    {
        foreach (var step in new[] { 3, 10, 20 }) Checkpoint.Save(run, step, folder => WriteState(folder, "{}"));
        File.Delete(Path.Combine(run, Checkpoint.FolderName(20), Checkpoint.StateFile));

        Assert.Equal(Path.Combine(run, Checkpoint.FolderName(10)), Checkpoint.Latest(run));
        Assert.Equal([Checkpoint.FolderName(20), Checkpoint.FolderName(10), Checkpoint.FolderName(3)], Checkpoint.NewestFirst(run).Select(Path.GetFileName));
    }

    [Fact]
    public void Checkpoints_newer_than_the_one_latest_names_are_not_resumed_from()
    {
        foreach (var step in new[] { 10, 20 }) Checkpoint.Save(run, step, folder => WriteState(folder, "{}"));
        File.WriteAllText(Path.Combine(run, Checkpoint.LatestFile), Checkpoint.FolderName(10));

        Assert.Equal([Checkpoint.FolderName(10)], Checkpoint.NewestFirst(run).Select(Path.GetFileName));
    }
}
