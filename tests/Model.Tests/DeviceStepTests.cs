using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>
/// The step loop without a host synchronisation per step: losses and gradient norms read in windows, the optimiser that clips
/// and skips non-finite steps on the device, and the background loader restarted when the data is switched under it.
/// </summary>
public sealed class DeviceStepTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-device-step-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static async Task<(List<TrainingEvent> Events, int HostReads)> Run(TrainingOptions options)
    {
        var (tokenizer, config, newData) = BackgroundLoaderTests.Dataset();
        using var trainer = SimVlmTrainer.Start(config, options, tokenizer, newData());
        var events = new List<TrainingEvent>();
        await foreach (var e in trainer.RunAsync(cancellationToken: TestContext.Current.CancellationToken)) events.Add(e);
        return (events, trainer.HostReads);
    }

    private static StepMetrics[] Steps(List<TrainingEvent> events) => events.OfType<StepCompleted>().Select(e => e.Metrics).ToArray();

    [Fact]
    public async Task LossesAndGradientNormsReadEveryFiveStepsAreTheOnesReadEveryStepAndTakeOneReadPerFiveSteps()
    {
        var options = BackgroundLoaderTests.Options with { Steps = 12 };
        var (everyStep, readsEveryStep) = await Run(options with { MetricsEvery = 1 });
        var (everyFifth, readsEveryFifth) = await Run(options with { MetricsEvery = 5 });

        Assert.Equal(Enumerable.Range(1, 12), Steps(everyFifth).Select(m => m.Step));
        Assert.Equal(Steps(everyStep).Select(m => m.Loss), Steps(everyFifth).Select(m => m.Loss));
        Assert.Equal(Steps(everyStep).Select(m => m.GradientNorm), Steps(everyFifth).Select(m => m.GradientNorm));
        Assert.All(Steps(everyFifth), m => Assert.True(m.Updated && double.IsFinite(m.Loss) && m.GradientNorm > 0));
        Assert.Equal(12, readsEveryStep);
        Assert.Equal(3, readsEveryFifth); // after steps 5 and 10, and after the last, 12
    }

    [Fact]
    public async Task ACheckpointStepIsReadBeforeItsCheckpointIsReported()
    {
        var options = BackgroundLoaderTests.Options with { Steps = 7, MetricsEvery = 5, CheckpointEvery = 3, CheckpointDirectory = Path.Combine(folder, "run") };
        var (events, reads) = await Run(options);

        Assert.Equal(3, reads); // after steps 3 and 6 (checkpoints; never more than five steps since the last read) and 7 (the last)
        foreach (var saved in events.OfType<CheckpointSaved>())
        {
            int index = events.IndexOf(saved);
            Assert.Contains(events.Take(index), e => e is StepCompleted completed && completed.Metrics.Step == saved.Step);
        }
        Assert.Equal([3, 6, 7], events.OfType<CheckpointSaved>().Select(s => s.Step));
    }

    /// <summary>Two layers, the second used only from the second step on: a parameter without a gradient is left alone.</summary>
    private sealed class TwoLayers : nn.Module<Tensor, bool, Tensor>
    {
        private readonly Linear first = nn.Linear(6, 5);
        private readonly Linear second = nn.Linear(5, 4);

        public TwoLayers(long seed) : base(nameof(TwoLayers))
        {
            RegisterComponents();
            using var noGrad = no_grad();
            var generator = new Generator((ulong)seed);
            foreach (var p in parameters()) p.copy_(randn(p.shape, generator: generator) * 0.5);
        }

        public override Tensor forward(Tensor input, bool throughSecond)
        {
            var hidden = first.call(input).tanh();
            return throughSecond ? second.call(hidden).square().mean() : hidden.square().mean();
        }
    }

    private static (Parameter[] Decayed, Parameter[] Undecayed) Groups(TwoLayers net) =>
        (net.parameters().Where(p => p.dim() >= 2).ToArray(), net.parameters().Where(p => p.dim() < 2).ToArray());

    [Fact]
    public void TheDeviceOptimiserTakesTorchSharpsAdamWStepsClippedAsLibtorchClipsAndSkipsANonFiniteStep()
    {
        const double clip = 0.05, decay = 0.1;
        using var reference = new TwoLayers(3);
        using var onDevice = new TwoLayers(3);
        var (referenceDecayed, referenceUndecayed) = Groups(reference);
        using var referenceOptimizer = optim.AdamW(
            [new AdamW.ParamGroup(referenceDecayed, 1e-2, 0.9, 0.999, 1e-8, decay, false, false), new AdamW.ParamGroup(referenceUndecayed, 1e-2, 0.9, 0.999, 1e-8, 0.0, false, false)],
            1e-2, 0.9, 0.999, 1e-8);
        var (decayed, undecayed) = Groups(onDevice);
        using var optimizer = new DeviceAdamW([(decayed, decay), (undecayed, 0.0)], 1e-2, 0.9, 0.999, 1e-8, clip);
        var inputs = new Generator(11);
        for (int step = 0; step < 8; step++)
        {
            using var scope = NewDisposeScope();
            var input = randn(7, 6, generator: inputs);
            bool throughSecond = step > 0;
            double scale = step == 4 ? double.NaN : 1.0; // step 5's gradient is NaN everywhere: no update at all
            double learningRate = 1e-2 * (step + 1) / 8;

            (reference.call(input, throughSecond) * scale).backward();
            double referenceNorm = nn.utils.clip_grad_norm_(reference.parameters(), clip);
            foreach (var group in referenceOptimizer.ParamGroups) group.LearningRate = learningRate;
            if (double.IsFinite(referenceNorm)) referenceOptimizer.step();
            referenceOptimizer.zero_grad();

            (onDevice.call(input, throughSecond) * scale).backward();
            double norm = optimizer.Step(learningRate).item<float>();
            optimizer.ZeroGrad();

            if (double.IsFinite(referenceNorm)) Assert.Equal(referenceNorm, norm, 5);
            else Assert.False(double.IsFinite(norm));
        }
        AssertSameParameters(reference, onDevice);

        // The optimiser file is TorchSharp's AdamW's, both ways: a run's older checkpoints load, and its own load elsewhere.
        string saved = Path.Combine(folder, "device.bin"), referenceSaved = Path.Combine(folder, "reference.bin");
        optimizer.Save(saved);
        referenceOptimizer.save_state_dict(referenceSaved);
        using var reloaded = new TwoLayers(3);
        var (reloadedDecayed, reloadedUndecayed) = Groups(reloaded);
        using var reloadedOptimizer = optim.AdamW(
            [new AdamW.ParamGroup(reloadedDecayed, 1e-2, 0.9, 0.999, 1e-8, decay, false, false), new AdamW.ParamGroup(reloadedUndecayed, 1e-2, 0.9, 0.999, 1e-8, 0.0, false, false)],
            1e-2, 0.9, 0.999, 1e-8);
        reloadedOptimizer.load_state_dict(saved);
        foreach (var (want, got) in referenceOptimizer.state_dict().State.Cast<AdamW.State>().Zip(reloadedOptimizer.state_dict().State.Cast<AdamW.State>()))
        {
            Assert.Equal(want.step, got.step);
            Assert.True(want.exp_avg.allclose(got.exp_avg, rtol: 1e-5, atol: 1e-7) && want.exp_avg_sq.allclose(got.exp_avg_sq, rtol: 1e-5, atol: 1e-9));
        }
        optimizer.Load(referenceSaved);
        using (NewDisposeScope())
        {
            var input = randn(7, 6, generator: inputs);
            reference.call(input, true).backward();
            nn.utils.clip_grad_norm_(reference.parameters(), clip);
            referenceOptimizer.step();
            onDevice.call(input, true).backward();
            optimizer.Step(1e-2);
        }
        AssertSameParameters(reference, onDevice);
    }

    private static void AssertSameParameters(nn.Module expected, nn.Module actual)
    {
        foreach (var ((name, want), (_, got)) in expected.named_parameters().Zip(actual.named_parameters()))
        {
            double largest = TestModels.Values(want).Zip(TestModels.Values(got), (a, b) => Math.Abs((double)a - b)).Max();
            Assert.True(largest <= 1e-6, $"{name} differs by {largest:E2}");
        }
    }

    [Fact]
    public void BatchesPreparedAheadAreDroppedWhenTheDataIsSwitchedSoTheRunTrainsOnTheNewData()
    {
        var (tokenizer, config, newData) = BackgroundLoaderTests.Dataset();
        SimVlmTrainer TrainAcrossASwitch(int prefetch)
        {
            var data = new RoundData(newData());
            var trainer = SimVlmTrainer.Start(config, BackgroundLoaderTests.Options with { PrefetchSteps = prefetch }, tokenizer, data);
            Assert.Equal(3, trainer.TrainSteps(3).Count());
            if (prefetch > 0) Thread.Sleep(300); // the loader has drawn the old data's next steps by now
            trainer.DiscardPreparedBatches();
            data.SwitchTo(newData()); // the new part starts from its first sample
            Assert.Equal(3, trainer.TrainSteps(3).Count());
            return trainer;
        }
        using var synchronous = TrainAcrossASwitch(prefetch: 0);
        using var prefetched = TrainAcrossASwitch(prefetch: 3);
        BackgroundLoaderTests.AssertSameWeights(synchronous.Model, prefetched.Model, 1e-6);
    }
}
