namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// How the replicas of a DiLoCo run (Douillard et al., 2023, arXiv 2311.08105) synchronise: each of
/// <see cref="Trainers"/> replicas takes <see cref="SyncEvery"/> local optimiser steps, then the
/// average of their pseudo-gradients (start weights minus local weights) is applied by Nesterov
/// momentum SGD. Defaults are the paper's outer learning rate and momentum.
/// </summary>
public sealed record DiLoCoOptions
{
    /// <summary>Replicas (K), each on its own trainer.</summary>
    public int Trainers { get; init; } = 1;

    /// <summary>Local steps per round (H).</summary>
    public int SyncEvery { get; init; } = 500;

    public double OuterLearningRate { get; init; } = 0.7;

    public double OuterMomentum { get; init; } = 0.9;

    /// <summary>"fp32" or "bf16": the number format pseudo-gradients travel in (bf16 halves the bytes per round).</summary>
    public string SyncPrecision { get; init; } = SyncPrecisions.Fp32;

    public DiLoCoOptions Validate()
    {
        if (Trainers < 1) throw new ArgumentException($"Trainers must be at least 1 (got {Trainers}).");
        if (SyncEvery < 1) throw new ArgumentException($"SyncEvery must be at least 1 (got {SyncEvery}).");
        if (!(OuterLearningRate > 0) || !double.IsFinite(OuterLearningRate)) throw new ArgumentException($"OuterLearningRate must be positive (got {OuterLearningRate}).");
        if (!(OuterMomentum >= 0 && OuterMomentum < 1)) throw new ArgumentException($"OuterMomentum must be in [0, 1) (got {OuterMomentum}).");
        SyncPrecisions.Validate(SyncPrecision);
        return this;
    }
}

/// <summary>The wire formats of pseudo-gradients.</summary>
public static class SyncPrecisions
{
    public const string Fp32 = "fp32";
    public const string Bf16 = "bf16";

    public static void Validate(string precision)
    {
        if (precision is not (Fp32 or Bf16)) throw new ArgumentException($"SyncPrecision '{precision}' must be fp32 or bf16.");
    }
}
