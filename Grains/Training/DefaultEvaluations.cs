using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Datasets;

namespace Platform.Grains.Training;

/// <summary>
/// What scores a run that names no evaluations: zero-shot captioning and VQA on the generated benchmark, each on its
/// first <see cref="MaxImages"/> test images so that a tiny model on a CPU is scored in seconds. The benchmark is generated
/// once per folder, into a temporary sibling that is renamed into place, so silos or submissions racing to make it never
/// see half of one.
/// </summary>
public static class DefaultEvaluations
{
    public static readonly string[] Tasks = ["coco-captions", "vqa"];

    public const int MaxImages = 50;

    /// <summary>The default evaluations on the benchmark in <paramref name="benchmarkFolder"/>, generating it first when the folder holds none.</summary>
    public static IReadOnlyList<RunEvaluation> Resolve(string benchmarkFolder)
    {
        string folder = EnsureBenchmark(benchmarkFolder);
        return [.. Tasks.Select(task => new RunEvaluation(task, folder, MaxImages: MaxImages))];
    }

    /// <summary>The folder as an absolute path, holding a benchmark: the one there, or one generated with the default options.</summary>
    public static string EnsureBenchmark(string benchmarkFolder)
    {
        string folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(benchmarkFolder));
        if (HoldsBenchmark(folder)) return folder;
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new IOException($"The benchmark folder {folder} holds something other than a benchmark; empty it, or write one there with `platform benchmark-data --out {folder}`.");
        var parent = Path.GetDirectoryName(folder)!;
        Directory.CreateDirectory(parent);
        string partial = Path.Combine(parent, $".{Path.GetFileName(folder)}.partial-{Guid.NewGuid():N}");
        try
        {
            BenchmarkGenerator.Generate(partial, new BenchmarkOptions());
            // An empty folder (made by hand, or a mount point) is not a benchmark: it gives way to the generated one.
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder);
            Directory.Move(partial, folder);
        }
        catch (IOException) when (HoldsBenchmark(folder))
        {
            // Another silo or submission renamed its benchmark into place first: that one is kept.
        }
        finally
        {
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        }
        return folder;
    }

    /// <summary>Whether the folder has what the default tasks read: the test split's captions, VQA questions and answers, and images.</summary>
    public static bool HoldsBenchmark(string folder) =>
        File.Exists(EvaluationDataLayout.CaptionsFile(folder, "test"))
        && File.Exists(EvaluationDataLayout.VqaQuestionsFile(folder, "test"))
        && File.Exists(EvaluationDataLayout.VqaAnnotationsFile(folder, "test"))
        && Directory.Exists(EvaluationDataLayout.ImagesFolder(folder, "test"));
}
