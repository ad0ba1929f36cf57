using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Model;
using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;

namespace Platform.Grains.Training;

/// <summary>How a run's spec becomes the Model library's training request: the one place the two meet.</summary>
public static class TrainingSpecMapping
{
    /// <summary>
    /// The request of one trainer attempt on <paramref name="device"/>, checkpointing into <paramref name="checkpointFolder"/>
    /// (<see cref="TrainingRun.CreateOrResume"/> decides whether it starts or resumes). A GPU is named by its ordinal
    /// (`cuda:1`), so a silo with several GPUs trains each run on the one the scheduler gave it.
    /// </summary>
    public static TrainingRunRequest Request(TrainingRunSpec spec, IReadOnlyList<DatasetShard> shards, string checkpointFolder, DeviceAddress device) => new()
    {
        Shards = shards,
        Documents = spec.TextDocuments,
        Preset = SimVlmConfig.Preset(spec.Preset),
        ShuffleBuffer = spec.ShuffleBuffer,
        Tokenizer = spec.Tokenizer,
        Options = new TrainingOptions
        {
            Steps = spec.Steps,
            SamplesPerStep = spec.SamplesPerStep,
            PeakLearningRate = spec.PeakLearningRate,
            WarmupSteps = spec.WarmupSteps,
            Precision = spec.Precision,
            Seed = spec.Seed,
            ImageTextRatio = spec.ImageTextRatio,
            TextOnlyRatio = spec.TextOnlyRatio,
            Threads = spec.Threads,
            PrefetchSteps = spec.Prefetch,
            CheckpointEvery = spec.CheckpointEvery,
            CheckpointDirectory = checkpointFolder,
            Device = LibTorchDevice(device),
        },
    };

    /// <summary>The run's DiLoCo settings as the Model library takes them (not yet validated).</summary>
    public static DiLoCoOptions DiLoCo(TrainingRunSpec spec) => new()
    {
        Trainers = spec.Trainers,
        SyncEvery = spec.SyncEvery,
        OuterLearningRate = spec.OuterLearningRate,
        OuterMomentum = spec.OuterMomentum,
        SyncPrecision = spec.SyncPrecision,
    };

    /// <summary>The libtorch device of an allocated or lent device: a GPU by its ordinal (`cuda:1`), a CPU slot as `cpu`.</summary>
    public static string LibTorchDevice(DeviceAddress device) => device.Device.StartsWith("cuda:", StringComparison.Ordinal) ? device.Device : "cpu";

    /// <summary>A step's metrics as the run's record keeps them.</summary>
    public static TrainingStepRecord Record(StepMetrics metrics, DateTimeOffset finishedAt) =>
        new(metrics.Step, metrics.Loss, metrics.LearningRate, metrics.GradientNorm, metrics.TokensPerSecond, metrics.Mfu, metrics.StepSeconds,
            metrics.DataSeconds, metrics.ForwardSeconds, metrics.BackwardSeconds, metrics.OptimizerSeconds, finishedAt, metrics.ValidationLoss, metrics.ModelTokens);
}
