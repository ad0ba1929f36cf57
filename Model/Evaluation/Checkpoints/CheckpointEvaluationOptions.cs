using Platform.Model.Evaluation.Retrieval;
using Platform.Model.Training;

namespace Platform.Model.Evaluation.Checkpoints;

/// <summary>
/// Fine-tuning on a task's train split before evaluation, with the paper's settings as defaults:
/// AdamW, peak learning rate 5e-5 (the largest of the paper's {1e-5, 2e-5, 5e-5}), dropout 0.1,
/// stochastic depth 0.1 on the conv stage and the encoder, weight decay 0.01.
/// </summary>
public sealed record FineTuneOptions
{
    /// <summary>Optimiser steps on the train split. Default 1000.</summary>
    public int Steps { get; init; } = 1000;

    /// <summary>Peak learning rate. Default 5e-5.</summary>
    public double LearningRate { get; init; } = 5e-5;

    /// <summary>Dropout while fine-tuning. Default 0.1.</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary>Drop-path (stochastic depth) rate on the conv stage and the encoder while fine-tuning. Default 0.1.</summary>
    public double DropPath { get; init; } = 0.1;

    /// <summary>Samples per optimiser step. Default 32.</summary>
    public int SamplesPerStep { get; init; } = 32;

    /// <summary>Share of the steps spent warming up linearly; linear decay to zero follows. Default 0.1.</summary>
    public double WarmupFraction { get; init; } = 0.1;

    /// <summary>AdamW weight decay. Default 0.01.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Seeds data order and dropout. Default 1.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>"auto", "cpu" or "cuda". Default auto.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>The split trained on. Default train.</summary>
    public string Split { get; init; } = "train";

    public FineTuneOptions Validate()
    {
        if (Steps < 1 || SamplesPerStep < 1) throw new ArgumentException("Fine-tuning needs at least one step of at least one sample.");
        if (LearningRate <= 0) throw new ArgumentException("The fine-tuning learning rate must be positive.");
        if (WarmupFraction is < 0 or >= 1) throw new ArgumentException("WarmupFraction must lie in [0, 1).");
        if (Dropout is < 0 or >= 1 || DropPath is < 0 or >= 1) throw new ArgumentException("Dropout and DropPath must lie in [0, 1).");
        return this;
    }

    /// <summary>The trainer's options for these settings: its optimiser, schedule and clipping, no checkpoints.</summary>
    public TrainingOptions ToTrainingOptions() => new()
    {
        Steps = Steps,
        SamplesPerStep = SamplesPerStep,
        PeakLearningRate = LearningRate,
        WarmupSteps = (int)(Steps * WarmupFraction),
        WeightDecay = WeightDecay,
        Seed = Seed,
        Device = Device,
        CheckpointEvery = 0,
    };
}

/// <summary>How a checkpoint is scored on a task; every default is what `platform eval --checkpoint` uses.</summary>
public sealed record CheckpointEvaluationOptions
{
    /// <summary>Split scored. Default test.</summary>
    public string Split { get; init; } = "test";

    /// <summary>Captioning: text the caption continues (the paper's zero-shot prompt); not part of the scored caption. Default "A picture of".</summary>
    public string Prompt { get; init; } = "A picture of";

    /// <summary>Beam size for captions and answers; 1 decodes greedily in batches. Default 1.</summary>
    public int BeamSize { get; init; } = 1;

    /// <summary>Longest generated caption in tokens. Default 20.</summary>
    public int MaxCaptionTokens { get; init; } = 20;

    /// <summary>Longest generated answer in tokens. Default 8.</summary>
    public int MaxAnswerTokens { get; init; } = 8;

    /// <summary>Images (captioning, retrieval) or questions (VQA) per forward pass. Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Score only the split's first this many images (retrieval is quadratic in them); null scores all. Default null.</summary>
    public int? MaxImages { get; init; }

    /// <summary>Retrieval: sum or mean of the text's token log-likelihoods given the image. Default mean.</summary>
    public PairScoring RetrievalScoring { get; init; } = PairScoring.MeanLogLikelihood;

    /// <summary>Retrieval: captions per image in the text gallery. Default 5 (the COCO 5k protocol).</summary>
    public int CaptionsPerImage { get; init; } = 5;

    /// <summary>Fine-tune on the task's train split first (captioning and VQA); null evaluates the checkpoint as it is.</summary>
    public FineTuneOptions? FineTune { get; init; }

    /// <summary>"cpu", "cuda" or "cuda:N" (a GPU by its ordinal, as training takes it) for scoring. Default cpu.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// Image side in pixels to fine-tune and evaluate at; the checkpoint's image positions are interpolated to
    /// the new patch grid (a multiple of its patch size). Null keeps the checkpoint's. Default null.
    /// </summary>
    public int? ImageSize { get; init; }

    public CheckpointEvaluationOptions Validate()
    {
        if (ImageSize is < 1) throw new ArgumentException("ImageSize must be positive when given.");
        if (BeamSize < 1) throw new ArgumentException("The beam size must be at least 1.");
        if (MaxCaptionTokens < 1 || MaxAnswerTokens < 1) throw new ArgumentException("At least one token must be generated.");
        if (BatchSize < 1) throw new ArgumentException("The batch size must be at least 1.");
        if (MaxImages is < 1) throw new ArgumentException("MaxImages must be at least 1 when given.");
        if (CaptionsPerImage < 1) throw new ArgumentException("CaptionsPerImage must be at least 1.");
        FineTune?.Validate();
        return this;
    }
}
