using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Datasets;

namespace Platform.Model.Training;

/// <summary>Everything besides tensors that a resumed run needs, saved as trainer.json.</summary>
public sealed record TrainerState
{
    /// <summary>Optimiser steps completed.</summary>
    public required int Step { get; init; }

    public required SimVlmConfig Config { get; init; }

    public required TrainingOptions Options { get; init; }

    /// <summary>The data streams' cursor (<see cref="IPrefixLmData.SaveCursor"/>).</summary>
    public required string DataCursor { get; init; }

    /// <summary>State of the generator that draws PrefixLM splits.</summary>
    public required ulong SplitRandomState { get; init; }

    /// <summary>The run's libtorch CPU generator stream (initialisation, dropout), base64.</summary>
    public required string TorchRandomState { get; init; }

    /// <summary>How often the run's stream reseeded the CUDA generators (<see cref="TorchRandomStream.CudaEntries"/>); 0 in older checkpoints.</summary>
    public long CudaRandomEntries { get; init; }
}

/// <summary>
/// A checkpoint folder: model.bin and optimizer.bin (TorchSharp format), vocabulary.json (the
/// tokenizer's id map) and trainer.json. Saving writes a hidden folder and renames it into place,
/// then points the run's "latest" file at it (written to a temporary file and renamed), so a crash
/// at any moment leaves the previous checkpoint intact and "latest" never names a partial one.
/// </summary>
public static class Checkpoint
{
    public const string ModelFile = "model.bin";
    public const string OptimizerFile = "optimizer.bin";
    public const string VocabularyFile = "vocabulary.json";
    public const string StateFile = "trainer.json";
    public const string LatestFile = "latest";

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static string FolderName(int step) => $"step-{step:D8}";

    /// <summary>
    /// Writes a checkpoint through <paramref name="writeFiles"/> into a staging folder, then publishes it. A folder of the
    /// same step already there is replaced, never trusted: it may be a leftover of an attempt that crashed while writing it,
    /// or of a superseded attempt on the same deterministic trajectory, whose contents this save reproduces.
    /// </summary>
    public static string Save(string directory, int step, Action<string> writeFiles)
    {
        Directory.CreateDirectory(directory);
        string final = Path.Combine(directory, FolderName(step));
        string staging = Path.Combine(directory, $".{FolderName(step)}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            writeFiles(staging);
            string? superseded = null;
            if (Directory.Exists(final))
            {
                superseded = Path.Combine(directory, $".{FolderName(step)}.superseded-{Guid.NewGuid():N}");
                Directory.Move(final, superseded);
            }
            DurableFiles.MoveDirectory(staging, final);
            if (superseded is not null) Directory.Delete(superseded, recursive: true);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
        PointLatestAt(directory, step);
        return final;
    }

    private static void PointLatestAt(string directory, int step)
    {
        string pointer = Path.Combine(directory, $".{LatestFile}.{Guid.NewGuid():N}");
        File.WriteAllText(pointer, FolderName(step));
        DurableFiles.Move(pointer, Path.Combine(directory, LatestFile), overwrite: true);
    }

    /// <summary>
    /// Makes the checkpoint of <paramref name="step"/> the latest again (none at all when 0) and deletes every newer one.
    /// A scheduled run resumes from the newest checkpoint its record accepted: a newer one was saved by an attempt that
    /// died or lost its lease before reporting the steps up to it, and resuming there would leave those steps unrecorded.
    /// </summary>
    public static void DiscardAfter(string directory, int step)
    {
        if (!Directory.Exists(directory)) return;
        // The pointer moves first, so it never names a folder being deleted.
        if (step > 0) PointLatestAt(directory, step);
        else File.Delete(Path.Combine(directory, LatestFile));
        foreach (string folder in Directory.GetDirectories(directory, "step-*"))
            if (StepOf(folder) is int saved && saved > step)
                Directory.Delete(folder, recursive: true);
    }

    private static int? StepOf(string folder) =>
        int.TryParse(Path.GetFileName(folder).AsSpan("step-".Length), out int step) ? step : null;

    /// <summary>
    /// The checkpoint folders a resume may start from, newest first: the one "latest" names, then every older step folder.
    /// The older ones are the fallback when the newest cannot be loaded (a disk that lost data, a file cut short by hand).
    /// Empty when the directory has no "latest", i.e. no checkpoint was ever published or all were discarded.
    /// </summary>
    public static IReadOnlyList<string> NewestFirst(string directory)
    {
        string pointer = Path.Combine(directory, LatestFile);
        if (!File.Exists(pointer)) return [];
        string newest = Path.Combine(directory, File.ReadAllText(pointer).Trim());
        int newestStep = StepOf(newest) ?? int.MaxValue;
        var older = Directory.GetDirectories(directory, "step-*")
            .Select(folder => (Folder: folder, Step: StepOf(folder)))
            .Where(saved => saved.Step < newestStep)
            .OrderByDescending(saved => saved.Step)
            .Select(saved => saved.Folder);
        return [newest, .. older];
    }

    /// <summary>
    /// The newest checkpoint folder in a run directory that holds a <see cref="StateFile"/>, or null when there is none;
    /// throws when checkpoints were published but none of them has one.
    /// </summary>
    public static string? Latest(string directory)
    {
        var candidates = NewestFirst(directory);
        if (candidates.Count == 0) return null;
        return candidates.FirstOrDefault(folder => File.Exists(Path.Combine(folder, StateFile)))
            ?? throw new InvalidDataException($"{Path.Combine(directory, LatestFile)} names {candidates[0]}, and neither it nor an older checkpoint holds a {StateFile}.");
    }

    /// <summary>
    /// The model and vocabulary of a checkpoint folder, or of the newest checkpoint when given a run
    /// directory, ready for decoding (evaluation mode, on the CPU). A folder that does not exist or holds
    /// no checkpoint, and a checkpoint whose files do not load, throw an <see cref="IOException"/> or
    /// <see cref="InvalidDataException"/> that names the path and what to give instead. An <paramref name="imageSize"/>
    /// other than the checkpoint's gives a model for that resolution, its image positions interpolated to the new grid.
    /// </summary>
    public static (SimVlmModel Model, TextTokenizer Tokenizer) LoadForInference(string path, int? imageSize = null)
    {
        string folder = ResolveFolder(path);
        var state = ReadState(folder);
        var tokenizer = TextTokenizer.Load(Path.Combine(folder, VocabularyFile));
        var model = new SimVlmModel(state.Config);
        string weights = Path.Combine(folder, ModelFile);
        try
        {
            model.load(weights);
        }
        catch (Exception e) when (IsUnloadable(e))
        {
            model.Dispose();
            throw new InvalidDataException($"{weights} does not load ({e.Message}): the checkpoint is damaged; give an older checkpoint of the run or train again.", e);
        }
        if (imageSize is int size && size != state.Config.ImageSize)
        {
            using var pretrained = model;
            model = new SimVlmModel(state.Config with { ImageSize = size });
            model.CopyWeightsFrom(pretrained);
        }
        model.eval();
        return (model, tokenizer);
    }

    /// <summary>A checkpoint folder as given, or the newest checkpoint of a run directory.</summary>
    public static string ResolveFolder(string path)
    {
        if (File.Exists(Path.Combine(path, StateFile))) return path;
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException($"{path} does not exist: give a checkpoint folder (step-NNNNNNNN) or the run folder that `platform train --out` wrote.");
        return Latest(path) ?? throw new FileNotFoundException(
            $"{path} holds no checkpoint (neither a {StateFile} nor a '{LatestFile}' file): give a checkpoint folder (step-NNNNNNNN) or the run folder that `platform train --out` wrote.",
            Path.Combine(path, StateFile));
    }

    public static TrainerState ReadState(string folder)
    {
        string file = Path.Combine(folder, StateFile);
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(file), Json)
                ?? throw new InvalidDataException($"{file} is empty: the checkpoint is damaged; give an older checkpoint of the run or train again.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file} does not parse ({e.Message}): the checkpoint is damaged; give an older checkpoint of the run or train again.", e);
        }
    }

    /// <summary>What a missing, truncated or garbled checkpoint file makes its readers throw (libtorch's errors included).</summary>
    internal static bool IsUnloadable(Exception e) =>
        e is IOException or InvalidDataException or JsonException or FormatException or ArgumentException
            or System.Runtime.InteropServices.ExternalException or NotSupportedException;

    internal static void WriteState(string folder, TrainerState state) =>
        File.WriteAllText(Path.Combine(folder, StateFile), JsonSerializer.Serialize(state, Json));
}
