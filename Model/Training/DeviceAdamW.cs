using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Model.Training;

/// <summary>
/// AdamW (decoupled weight decay, the update of TorchSharp's and PyTorch's AdamW) with global gradient-norm clipping, whose
/// step never waits for the device: the gradient norm, the clip coefficient, whether the gradient is finite (a step whose
/// gradient is not leaves weights, moments and step counts as they were) and the step counts stay tensors on the device, so
/// a step queues its work and returns. Each parameter group's gradients and moments are single flat tensors, so an update is
/// a few large operations plus two per parameter, instead of a dozen per parameter as TorchSharp's AdamW takes (what PyTorch's
/// multi-tensor "foreach" path buys; TorchSharp has none).
/// The moments live in a TorchSharp <see cref="AdamW"/> as views of the flat tensors, so the optimiser file of a checkpoint
/// keeps TorchSharp's format: older checkpoints load, and <see cref="Save"/> brings its step counts up to date first.
/// </summary>
internal sealed class DeviceAdamW : IDisposable
{
    private readonly AdamW store;
    private readonly Group[] groups;
    private readonly double clipNorm;
    private readonly Device device;
    /// <summary>The step's constants as Scalars that outlive every call reading them (see <see cref="KeptScalars"/>).</summary>
    private readonly Scalar gradientShare, squareShare, logBeta1, logBeta2, epsilon, correctionFloor, normFloor, clip;

    /// <summary>One parameter group: its parameters, their TorchSharp states, and the flat moments those states view.</summary>
    private sealed class Group
    {
        public required Parameter[] Parameters { get; init; }
        public required AdamW.State[] States { get; init; }
        public required double WeightDecay { get; init; }
        public required long[] Offsets { get; init; }
        public required Tensor ExpAvg { get; init; }
        public required Tensor ExpAvgSq { get; init; }
        /// <summary>While every step has given every parameter a gradient: the one update count they share.</summary>
        public Tensor? SharedSteps { get; set; }
        /// <summary>Once some step left a parameter without a gradient (TorchSharp then leaves it alone): a count per parameter.</summary>
        public Tensor[]? ParameterSteps { get; set; }

        public long Size(int index) => Parameters[index].numel();
    }

    /// <param name="parameterGroups">Parameters and the weight decay of each group.</param>
    /// <param name="clipNorm">Global gradient-norm clip; 0 or less clips nothing.</param>
    public DeviceAdamW(IReadOnlyList<(Parameter[] Parameters, double WeightDecay)> parameterGroups, double learningRate, double beta1, double beta2, double epsilon, double clipNorm)
    {
        this.clipNorm = clipNorm;
        (gradientShare, squareShare) = (KeptScalars.Of(1 - beta1), KeptScalars.Of(1 - beta2));
        (logBeta1, logBeta2) = (KeptScalars.Of(Math.Log(beta1)), KeptScalars.Of(Math.Log(beta2)));
        (this.epsilon, correctionFloor, normFloor, clip) = (KeptScalars.Of(epsilon), KeptScalars.Of(1e-30), KeptScalars.Of(1e-6), KeptScalars.Of(clipNorm));
        store = optim.AdamW(
            parameterGroups.Select(g => new AdamW.ParamGroup(g.Parameters, learningRate, beta1, beta2, epsilon, g.WeightDecay, false, false)),
            learningRate, beta1, beta2, epsilon);
        device = parameterGroups.SelectMany(g => g.Parameters).First().device;
        var states = store.state_dict().State.Cast<AdamW.State>().ToArray();
        int first = 0;
        groups = parameterGroups.Select(g =>
        {
            var offsets = new long[g.Parameters.Length + 1];
            for (int i = 0; i < g.Parameters.Length; i++) offsets[i + 1] = offsets[i] + g.Parameters[i].numel();
            var group = new Group
            {
                Parameters = g.Parameters,
                States = states[first..(first + g.Parameters.Length)],
                WeightDecay = g.WeightDecay,
                Offsets = offsets,
                ExpAvg = zeros(offsets[^1], ScalarType.Float32, device).DetachFromDisposeScope(),
                ExpAvgSq = zeros(offsets[^1], ScalarType.Float32, device).DetachFromDisposeScope(),
            };
            first += g.Parameters.Length;
            BindStates(group);
            return group;
        }).ToArray();
    }

    /// <summary>Gradient-free views of a group's flat moments in its TorchSharp states, after copying the states' values into them.</summary>
    private void BindStates(Group group)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < group.Parameters.Length; i++)
        {
            var state = group.States[i];
            state.exp_avg = Bind(group.ExpAvg, state.exp_avg);
            state.exp_avg_sq = Bind(group.ExpAvgSq, state.exp_avg_sq);

            Tensor Bind(Tensor flat, Tensor loaded)
            {
                var view = flat.narrow(0, group.Offsets[i], group.Size(i)).view(group.Parameters[i].shape).DetachFromDisposeScope();
                view.copy_(loaded);
                if (loaded.Handle != view.Handle) loaded.Dispose();
                return view;
            }
        }
        long[] steps = group.States.Select(s => s.step).ToArray();
        group.SharedSteps?.Dispose();
        group.SharedSteps = null;
        foreach (var count in group.ParameterSteps ?? []) count.Dispose();
        group.ParameterSteps = null;
        if (steps.Distinct().Count() <= 1) group.SharedSteps = Count(steps.FirstOrDefault());
        else group.ParameterSteps = steps.Select(Count).ToArray();
    }

    private Tensor Count(long steps) => tensor((double)steps, ScalarType.Float64, device).DetachFromDisposeScope();

    /// <summary>Sets every gradient to zero in place (the gradients keep their tensors).</summary>
    public void ZeroGrad() => store.zero_grad();

    /// <summary>
    /// Clips the gradients to the global norm and takes one AdamW step at <paramref name="learningRate"/>, unless the gradient
    /// norm is not finite; all decided on the device. Returns the norm before clipping, a scalar on the device.
    /// </summary>
    public Tensor Step(double learningRate)
    {
        using var noGrad = no_grad();
        var gradients = groups.Select(g => g.Parameters.Select(p => p.grad).ToArray()).ToArray();
        // Parameters without a gradient count as zero in the norm, as libtorch's clip_grad_norm_ skips them.
        var flat = gradients.Select((grads, i) => grads.All(g => g is null) ? null
            : cat(grads.Select((g, j) => g?.reshape(-1) ?? zeros(groups[i].Size(j), ScalarType.Float32, device)).ToArray())).ToArray();
        var norms = flat.Where(f => f is not null).Select(f => f!.norm()).ToArray();
        var norm = norms.Length == 0 ? zeros(1, ScalarType.Float32, device).squeeze() : stack(norms).norm();
        var finite = norm.isfinite();
        var taken = finite.to(ScalarType.Float32);
        // The clip coefficient libtorch's clip_grad_norm_ uses, zero for a non-finite step: its gradient must not reach the moments.
        var coefficient = clipNorm > 0
            ? where(finite, full_like(norm, clip).div_(norm.add(normFloor, KeptScalars.One)).clamp_max(KeptScalars.One), zeros_like(norm))
            : taken;
        // 1 - (1 - beta) * taken: beta for a taken step, 1 (moments unchanged) for a skipped one.
        var beta1Taken = taken.mul(gradientShare).neg_().add_(KeptScalars.One, KeptScalars.One);
        var beta2Taken = taken.mul(squareShare).neg_().add_(KeptScalars.One, KeptScalars.One);
        using var stepRate = KeptScalars.Of(learningRate);
        var scaledRate = taken.mul(stepRate);
        for (int i = 0; i < groups.Length; i++)
        {
            if (flat[i] is not Tensor gradient) continue;
            // NaN times zero is NaN: what a skipped step's gradient holds becomes zero, which the gated updates then ignore.
            gradient.mul_(coefficient).nan_to_num_(0.0, 0.0, 0.0);
            var group = groups[i];
            using var decayRate = KeptScalars.Of(-learningRate * group.WeightDecay);
            var decay = taken.mul(decayRate).add_(KeptScalars.One, KeptScalars.One);
            if (group.SharedSteps is Tensor shared && gradients[i].All(g => g is not null))
            {
                var update = Update(gradient, group.ExpAvg, group.ExpAvgSq, shared, scaledRate, taken, beta1Taken, beta2Taken);
                for (int j = 0; j < group.Parameters.Length; j++)
                    group.Parameters[j].mul_(decay).sub_(update.narrow(0, group.Offsets[j], group.Size(j)).view(group.Parameters[j].shape));
                continue;
            }
            // Some parameter has no gradient this step: as TorchSharp's AdamW, it is left alone and its count stays.
            group.ParameterSteps ??= group.Parameters.Select(_ => group.SharedSteps!.clone().DetachFromDisposeScope()).ToArray();
            group.SharedSteps?.Dispose();
            group.SharedSteps = null;
            for (int j = 0; j < group.Parameters.Length; j++)
            {
                if (gradients[i][j] is null) continue;
                var (start, size) = (group.Offsets[j], group.Size(j));
                var update = Update(gradient.narrow(0, start, size), group.ExpAvg.narrow(0, start, size), group.ExpAvgSq.narrow(0, start, size),
                    group.ParameterSteps[j], scaledRate, taken, beta1Taken, beta2Taken);
                group.Parameters[j].mul_(decay).sub_(update.view(group.Parameters[j].shape));
            }
        }
        return norm;
    }

    /// <summary>
    /// Moves the moments by the (zero when skipped) gradient, counts the step when taken, and returns the step to subtract from
    /// the weights: zero when not taken. Bias corrections are floored so that a count still at zero gives zero, not NaN.
    /// </summary>
    private Tensor Update(Tensor gradient, Tensor expAvg, Tensor expAvgSq, Tensor steps, Tensor scaledRate, Tensor taken, Tensor beta1Taken, Tensor beta2Taken)
    {
        expAvg.mul_(beta1Taken).add_(gradient, gradientShare);
        expAvgSq.mul_(beta2Taken).addcmul_(gradient, gradient, squareShare);
        steps.add_(taken, KeptScalars.One);
        var correction1 = steps.mul(logBeta1).expm1().neg().clamp_min(correctionFloor);
        var correction2 = steps.mul(logBeta2).expm1().neg().clamp_min(correctionFloor);
        var denominator = expAvgSq.sqrt().div_(correction2.sqrt().to(ScalarType.Float32)).add_(epsilon, KeptScalars.One);
        return expAvg.div(denominator).mul_(scaledRate.div(correction1).to(ScalarType.Float32));
    }

    /// <summary>Writes the state in TorchSharp's AdamW format, its step counts read from the device first.</summary>
    public void Save(string path)
    {
        foreach (var group in groups)
            for (int i = 0; i < group.States.Length; i++)
                group.States[i].step = (long)(group.SharedSteps ?? group.ParameterSteps![i]).item<double>();
        store.save_state_dict(path);
    }

    /// <summary>Reads a state <see cref="Save"/> (or TorchSharp's AdamW) wrote.</summary>
    public void Load(string path)
    {
        store.load_state_dict(path);
        foreach (var group in groups) BindStates(group);
    }

    public void Dispose()
    {
        store.Dispose();
        foreach (var scalar in new[] { gradientShare, squareShare, logBeta1, logBeta2, epsilon, correctionFloor, normFloor, clip }) scalar.Dispose();
        foreach (var group in groups)
        {
            group.ExpAvg.Dispose();
            group.ExpAvgSq.Dispose();
            group.SharedSteps?.Dispose();
            foreach (var count in group.ParameterSteps ?? []) count.Dispose();
        }
    }
}
