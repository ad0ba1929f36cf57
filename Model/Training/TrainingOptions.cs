namespace Platform.Model.Training;

/// <summary>How to train; defaults follow the paper where it says (AdamW 0.9/0.999, weight decay 0.01, 8:1 mixing).</summary>
public sealed record TrainingOptions
{
    /// <summary>Optimiser steps in the whole run (the schedule decays to zero at this step).</summary>
    public int Steps { get; init; } = 1000;

    /// <summary>Samples per optimiser step (summed over accumulation micro-steps), split between the two data kinds.</summary>
    public int SamplesPerStep { get; init; } = 18;

    /// <summary>Micro-batches per optimiser step; gradients are summed across them before the update.</summary>
    public int AccumulationSteps { get; init; } = 1;

    /// <summary>Image-text share of each step's samples (the paper: 4,096 pairs ...).</summary>
    public int ImageTextRatio { get; init; } = 8;

    /// <summary>... to 512 text-only documents: 8:1. Ignored when the data has no text-only documents.</summary>
    public int TextOnlyRatio { get; init; } = 1;

    public double PeakLearningRate { get; init; } = 5e-4;

    /// <summary>Steps of linear warmup from zero to the peak; linear decay to zero follows.</summary>
    public int WarmupSteps { get; init; } = 100;

    public double WeightDecay { get; init; } = 0.01;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.999;

    /// <summary>Global gradient-norm clip; 0 disables clipping.</summary>
    public double GradientClipNorm { get; init; } = 1.0;

    /// <summary>Seeds initialisation, data order, PrefixLM splits and dropout.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// "auto" (CUDA when available, else CPU), "cpu", "cuda" (libtorch's default GPU) or "cuda:N" (GPU
    /// number N, as a silo advertises it); or a comma-separated list of the last three ("cuda:0,cuda:1",
    /// "cpu,cpu") for data parallel training: one replica per device, each step's samples split between
    /// them, the gradients gathered on the first device, which holds the weights and the optimiser.
    /// </summary>
    public string Device { get; init; } = "auto";

    /// <summary>The devices of <see cref="Device"/>, one per replica: one unless it is a list.</summary>
    public string[] ReplicaDevices() => Device.Split(',', StringSplitOptions.TrimEntries);

    /// <summary>
    /// "auto" (bfloat16 on CUDA, float32 on the CPU), "fp32" or "bf16". In bfloat16, forward and
    /// backward run in a bfloat16 copy of the model by explicit casts; the optimiser keeps float32
    /// master weights. "bf16" on the CPU works but is slow: it exists to test that path without a GPU.
    /// </summary>
    public string Precision { get; init; } = "auto";

    /// <summary>CPU threads for libtorch; 0 leaves libtorch's default. Keep below the core count so the host stays responsive.</summary>
    public int Threads { get; init; } = 0;

    /// <summary>Save a checkpoint every this many steps (and at the end and on cancellation); 0 saves only then.</summary>
    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Folder of checkpoints; null trains without saving.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Score the held-out samples (<see cref="SimVlmTrainer.UseValidationData"/>) after every this many steps; 0 never does.</summary>
    public int ValidateEvery { get; init; } = 0;

    /// <summary>Held-out samples a validation scores: the same ones each time.</summary>
    public int ValidationSamples { get; init; } = 64;

    /// <summary>The device's peak FLOP/s for model FLOPs utilisation in the metrics; null leaves MFU out.</summary>
    public double? PeakFlopsPerSecond { get; init; }

    /// <summary>
    /// Steps whose batches a background thread prepares ahead of the step (drawing, decoding, tokenising, building
    /// tensors; on CUDA pinning and copying without blocking), so the device does not wait on data; 0 prepares each
    /// step's batches at its start, on the training thread. Either way the same seed gives the same batches. Data switched
    /// under a running trainer (DiLoCo's part per round) is switched after <see cref="SimVlmTrainer.DiscardPreparedBatches"/>,
    /// which drops what the loader drew ahead and restarts it on the new data. Off by default: on this project's two-core
    /// machine `bench train` found a step's data share at 0.1% without it (batches of in-memory samples take milliseconds
    /// against seconds of compute), so a thread ahead bought nothing there; it pays where decoding is slow or a GPU waits.
    /// </summary>
    public int PrefetchSteps { get; init; } = 0;

    /// <summary>
    /// Steps between reads of the loss and gradient norm to the host: the step loop keeps them on the device and reads the
    /// steps since the last read together, every this many steps, at validation and checkpoint steps and at the last step,
    /// so that the device is not made to wait every step. Each step's own values are reported (none averaged); they only
    /// arrive in batches. 1 reads every step.
    /// </summary>
    public int MetricsEvery { get; init; } = 10;

    /// <summary>N of a "cuda:N" device choice; null for any other choice.</summary>
    public static int? CudaOrdinal(string device) =>
        device.StartsWith("cuda:", StringComparison.Ordinal) && device.Length > 5 && device[5..].All(char.IsAsciiDigit)
            && int.TryParse(device[5..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int ordinal) ? ordinal : null;

    public TrainingOptions Validate()
    {
        if (Steps < 1) throw new ArgumentException("Steps must be positive.");
        if (AccumulationSteps < 1 || SamplesPerStep < AccumulationSteps)
            throw new ArgumentException($"SamplesPerStep {SamplesPerStep} must give every one of the {AccumulationSteps} micro-batches a sample.");
        if (PeakLearningRate <= 0 || WarmupSteps < 0) throw new ArgumentException("PeakLearningRate must be positive and WarmupSteps non-negative.");
        if (ImageTextRatio < 0 || TextOnlyRatio < 0 || ImageTextRatio + TextOnlyRatio == 0) throw new ArgumentException("Mixing ratios must be non-negative and not both zero.");
        var devices = ReplicaDevices();
        if (devices.Length == 1 && Device is not ("auto" or "cpu" or "cuda") && CudaOrdinal(Device) is null) throw new ArgumentException($"Device '{Device}' must be auto, cpu, cuda or cuda:N.");
        if (devices.Length > 1 && devices.Any(d => d is not ("cpu" or "cuda") && CudaOrdinal(d) is null))
            throw new ArgumentException($"Device list '{Device}' must name only cpu, cuda or cuda:N devices, one per data parallel replica.");
        if (Precision is not ("auto" or "fp32" or "bf16")) throw new ArgumentException($"Precision '{Precision}' must be auto, fp32 or bf16.");
        if (ValidateEvery < 0 || ValidationSamples < 1) throw new ArgumentException("ValidateEvery must not be negative and ValidationSamples must be positive.");
        if (PrefetchSteps < 0) throw new ArgumentException("PrefetchSteps must not be negative.");
        if (MetricsEvery < 1) throw new ArgumentException($"MetricsEvery {MetricsEvery} must be at least 1 (1 reads the loss every step).");
        if (CheckpointEvery < 0 || Threads < 0) throw new ArgumentException("CheckpointEvery and Threads must not be negative.");
        return this;
    }
}
