using Platform.Datasets;
using Platform.Model;
using Platform.Model.Training;

namespace Platform.Grains.Training;

/// <summary>A run's spec in the Model library's terms: what a trainer hands <see cref="TrainingRun.CreateOrResume"/>.</summary>
public static class TrainingRunRequests
{
    /// <param name="device">The torch device kind the attempt trains on: auto, cpu or cuda.</param>
    public static TrainingOptions Options(TrainingRunSpec spec, string checkpointFolder, string device = "auto") => new()
    {
        Steps = spec.Steps,
        SamplesPerStep = spec.SamplesPerStep,
        PeakLearningRate = spec.PeakLearningRate,
        WarmupSteps = spec.WarmupSteps,
        Precision = spec.Precision,
        Seed = spec.Seed,
        ImageTextRatio = spec.ImageTextRatio,
        TextOnlyRatio = spec.TextOnlyRatio,
        CheckpointEvery = spec.CheckpointEvery,
        CheckpointDirectory = checkpointFolder,
        Threads = spec.Threads,
        Device = device,
    };

    /// <param name="shards">The dataset's committed shards in manifest order.</param>
    public static TrainingRunRequest For(TrainingRunSpec spec, IReadOnlyList<DatasetShard> shards, string checkpointFolder, string device = "auto") => new()
    {
        Shards = shards,
        Documents = spec.TextDocuments,
        Preset = SimVlmConfig.Preset(spec.Preset),
        Options = Options(spec, checkpointFolder, device),
        ShuffleBuffer = spec.ShuffleBuffer,
        Tokenizer = spec.Tokenizer,
    };
}
