using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Model.Training;

/// <summary>
/// The optimiser of every training loop here (pretraining, fine-tuning through <see cref="SimVlmTrainer"/>, NLVR2's
/// pair fine-tuning): AdamW with weight decay on matrices and convolution kernels only, not on biases and norm
/// scales (as GPT-2 and ViT do); linear warmup then linear decay (<see cref="LearningRateSchedule"/>); the gradient
/// clipped by its global norm; and an update dropped when that norm is not finite, since it would turn every
/// weight into NaN.
/// </summary>
/// <remarks>
/// Kept apart from <see cref="DeviceAdamW"/> on purpose: that is the update rule on any parameter groups, checked step for step
/// against TorchSharp's AdamW on a small network and owning the checkpoint's optimiser format; this is the training recipe (which
/// weights decay, the learning rate of each step) that every loop shares, and changes for other reasons.
/// </remarks>
public sealed class ModelOptimizer : IDisposable
{
    private readonly DeviceAdamW adamW;
    private double learningRate;

    public LearningRateSchedule Schedule { get; }

    /// <summary>Peak learning rate, warmup, steps, weight decay, betas and clipping from <paramref name="options"/>.</summary>
    public ModelOptimizer(SimVlmModel model, TrainingOptions options)
    {
        var parameters = model.parameters().ToArray();
        adamW = new DeviceAdamW(
            [(parameters.Where(p => p.dim() >= 2).ToArray(), options.WeightDecay), (parameters.Where(p => p.dim() < 2).ToArray(), 0.0)],
            options.PeakLearningRate, options.Beta1, options.Beta2, epsilon: 1e-8, options.GradientClipNorm);
        Schedule = new LearningRateSchedule(options.PeakLearningRate, options.WarmupSteps, options.Steps);
        learningRate = options.PeakLearningRate;
    }

    /// <summary>Sets the learning rate of the update of <paramref name="step"/> (0-based) and returns it.</summary>
    public double SetLearningRate(int step) => learningRate = Schedule.At(step);

    public void ZeroGrad() => adamW.ZeroGrad();

    /// <summary>
    /// Clips the gradient (a clip norm of 0 does not clip) and updates the weights unless its norm is not finite, all on the
    /// device: returns the norm before clipping as a scalar tensor there, unread, so the step loop need not wait for it.
    /// </summary>
    public Tensor Step() => adamW.Step(learningRate);

    /// <summary><see cref="Step"/> for loops that read every step anyway: the norm, and whether the update was taken.</summary>
    public (double GradientNorm, bool Updated) ClipAndStep()
    {
        using var norm = Step();
        double value = norm.item<float>();
        return (value, double.IsFinite(value));
    }

    public void Save(string path) => adamW.Save(path);

    public void Load(string path) => adamW.Load(path);

    public void Dispose() => adamW.Dispose();
}
