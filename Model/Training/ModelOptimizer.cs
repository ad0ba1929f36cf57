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
public sealed class ModelOptimizer : IDisposable
{
    private readonly KeptScalarAdamW adamW;
    private readonly Parameter[] parameters;
    private readonly double gradientClipNorm;

    public LearningRateSchedule Schedule { get; }

    /// <summary>Peak learning rate, warmup, steps, weight decay, betas and clipping from <paramref name="options"/>.</summary>
    public ModelOptimizer(SimVlmModel model, TrainingOptions options)
    {
        parameters = model.parameters().ToArray();
        const double epsilon = 1e-8;
        adamW = new KeptScalarAdamW(
            [
                new AdamW.ParamGroup(parameters.Where(p => p.dim() >= 2).ToArray(), options.PeakLearningRate, options.Beta1, options.Beta2, epsilon, options.WeightDecay, false, false),
                new AdamW.ParamGroup(parameters.Where(p => p.dim() < 2).ToArray(), options.PeakLearningRate, options.Beta1, options.Beta2, epsilon, 0.0, false, false),
            ],
            options.PeakLearningRate, options.Beta1, options.Beta2, epsilon, options.WeightDecay);
        Schedule = new LearningRateSchedule(options.PeakLearningRate, options.WarmupSteps, options.Steps);
        gradientClipNorm = options.GradientClipNorm;
    }

    /// <summary>Sets the learning rate of the update of <paramref name="step"/> (0-based) and returns it.</summary>
    public double SetLearningRate(int step)
    {
        double learningRate = Schedule.At(step);
        foreach (var group in adamW.ParamGroups) group.LearningRate = learningRate;
        return learningRate;
    }

    public void ZeroGrad() => adamW.zero_grad();

    /// <summary>Clips the gradient (a clip norm of 0 does not clip) and updates the weights unless its norm is not finite.</summary>
    public (double GradientNorm, bool Updated) ClipAndStep()
    {
        double norm = nn.utils.clip_grad_norm_(parameters, gradientClipNorm > 0 ? gradientClipNorm : double.PositiveInfinity);
        bool updated = double.IsFinite(norm);
        if (updated) adamW.step();
        return (norm, updated);
    }

    public void Save(string path) => adamW.save_state_dict(path);

    public void Load(string path) => adamW.load_state_dict(path);

    public void Dispose() => adamW.Dispose();

    /// <summary>
    /// TorchSharp's AdamW with the same arithmetic in the same order and the same saved state, but every coefficient
    /// passed as a Scalar that outlives its call (see <see cref="KeptScalars"/>): TorchSharp's own step passes numbers
    /// whose Scalars a collection during the call may free.
    /// </summary>
    private sealed class KeptScalarAdamW(IEnumerable<AdamW.ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay)
        : AdamW(groups, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false)
    {
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, learningRate = options.LearningRate!.Value;
            using var noGrad = no_grad();
            using var decay = KeptScalars.Of(1 - learningRate * options.weight_decay!.Value);
            using var keepAverage = KeptScalars.Of(beta1);
            using var gradientShare = KeptScalars.Of(1 - beta1);
            using var keepSquares = KeptScalars.Of(beta2);
            using var squareShare = KeptScalars.Of(1 - beta2);
            using var epsilon = KeptScalars.Of(options.eps!.Value);
            foreach (var parameter in group.Parameters)
            {
                var gradient = parameter.grad;
                if (gradient is null) continue;
                using var scope = NewDisposeScope();
                var state = (State)_state[parameter.Handle];
                state.step += 1;
                parameter.mul_(decay);
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step), biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                state.exp_avg.mul_(keepAverage).add_(gradient, gradientShare);
                state.exp_avg_sq.mul_(keepSquares).addcmul_(gradient, gradient, squareShare);
                using var correction = KeptScalars.Of(Math.Sqrt(biasCorrection2));
                var denominator = state.exp_avg_sq.sqrt().div_(correction).add_(epsilon, KeptScalars.One);
                using var stepSize = KeptScalars.Of(-learningRate / biasCorrection1);
                parameter.addcdiv_(state.exp_avg, denominator, stepSize);
            }
        }, closure);
    }
}
