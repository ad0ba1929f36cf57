using Platform.Grains.Training;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Datasets;

namespace Platform.Tests.Training;

/// <summary>The default evaluations and the benchmark they score on, generated once per folder.</summary>
public sealed class DefaultEvaluationsTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("default-evaluations-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string[] PartialFolders() => [.. Directory.GetDirectories(root).Where(d => Path.GetFileName(d).Contains(".partial-", StringComparison.Ordinal))];

    [Fact]
    public void The_default_is_captioning_and_vqa_on_the_generated_benchmark_with_a_small_image_cap()
    {
        var folder = Path.Combine(root, "benchmark");

        var evaluations = DefaultEvaluations.Resolve(folder);

        Assert.Equal(
            [new RunEvaluation("coco-captions", folder, "test", "A picture of", 1, DefaultEvaluations.MaxImages), new RunEvaluation("vqa", folder, "test", "A picture of", 1, DefaultEvaluations.MaxImages)],
            evaluations);
        Assert.Equal(50, DefaultEvaluations.MaxImages);
        Assert.All(evaluations, e => Assert.Null(e.Device));
        Assert.True(DefaultEvaluations.HoldsBenchmark(folder));
        Assert.Equal(20, Directory.GetFiles(EvaluationDataLayout.ImagesFolder(folder, "test")).Length);
    }

    [Fact]
    public void A_second_resolution_keeps_the_benchmark_there_and_rewrites_nothing()
    {
        var folder = Path.Combine(root, "benchmark");
        DefaultEvaluations.Resolve(folder);
        var captions = EvaluationDataLayout.CaptionsFile(folder, "test");
        var written = File.GetLastWriteTimeUtc(captions);
        var planted = Path.Combine(folder, "planted-by-the-test");
        File.WriteAllText(planted, "a regenerated benchmark would not hold this");

        DefaultEvaluations.Resolve(folder);

        Assert.Equal(written, File.GetLastWriteTimeUtc(captions));
        Assert.True(File.Exists(planted));
        Assert.Empty(PartialFolders());
    }

    [Fact]
    public async Task Generations_racing_on_one_folder_leave_one_complete_benchmark_and_no_partial_folder()
    {
        var folder = Path.Combine(root, "benchmark");
        using var start = new Barrier(3);

        var results = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait(TestContext.Current.CancellationToken);
            return DefaultEvaluations.EnsureBenchmark(folder);
        })).ToArray();
        var folders = await Task.WhenAll(results);

        Assert.All(folders, f => Assert.Equal(folder, f));
        Assert.Empty(PartialFolders());
        var reference = Path.Combine(Directory.CreateTempSubdirectory("default-evaluations-reference-").FullName);
        try
        {
            // One seed gives byte-identical files: the benchmark in place is whole, not a mix cut short.
            BenchmarkGenerator.Generate(reference, new BenchmarkOptions(), TestContext.Current.CancellationToken);
            var expected = Directory.GetFiles(reference, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(reference, f)).Order().ToArray();
            Assert.Equal(expected, Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f)).Order());
            Assert.All(expected, f => Assert.Equal(File.ReadAllBytes(Path.Combine(reference, f)), File.ReadAllBytes(Path.Combine(folder, f))));
        }
        finally
        {
            Directory.Delete(reference, recursive: true);
        }
    }

    [Fact]
    public void A_folder_holding_something_else_is_refused_and_left_as_it_is()
    {
        var folder = Directory.CreateDirectory(Path.Combine(root, "benchmark")).FullName;
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "mine");

        var error = Assert.Throws<IOException>(() => DefaultEvaluations.Resolve(folder));

        Assert.Contains("platform benchmark-data --out", error.Message);
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
        Assert.Empty(PartialFolders());
    }
}
