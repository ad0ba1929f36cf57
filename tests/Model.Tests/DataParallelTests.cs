using Platform.Model.Training;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>
/// Data parallel training within one trainer: replicas on several devices (CPU devices here), each
/// step's samples split between them, gradients gathered before one optimiser step. (This project
/// runs its Model.Tests one class at a time, which keeps libtorch's process-wide random state and
/// thread count to one test, as ExactWeightsCollection does in Platform.Tests.)
/// </summary>
public sealed class DataParallelTests
{
    private static readonly SimVlmConfig Config = TestModels.Micro;

    private static InMemoryPrefixLmData Data(ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var pairs = Enumerable.Range(0, 24).Select(_ => TestModels.ImageTextSample(Config, random, random.Next(3, Config.MaxTextLength + 1))).ToArray();
        var documents = Enumerable.Range(0, 6).Select(_ => TestModels.TextOnlySample(Config, random, random.Next(3, Config.MaxTextLength + 1))).ToArray();
        return new InMemoryPrefixLmData(pairs, documents, seed);
    }

    private static (Dictionary<string, float[]> Weights, double[] Losses) Train(TrainingOptions options, int steps)
    {
        using var trainer = SimVlmTrainer.Start(Config, options, TextTokenizer.BuildGpt2([], Config.VocabSize), Data(7));
        double[] losses = Enumerable.Range(0, steps).Select(_ => trainer.TrainStep().Loss).ToArray();
        return (trainer.Model.named_parameters().ToDictionary(p => p.name, p => TestModels.Values(p.parameter)), losses);
    }

    private static double LargestDifference(Dictionary<string, float[]> a, Dictionary<string, float[]> b) =>
        a.Max(p => p.Value.Zip(b[p.Key]).Max(pair => Math.Abs((double)pair.First - pair.Second)));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TwoCpuReplicasWithTheBatchSplitEqualOneDeviceWithTheWholeBatch(int accumulationSteps)
    {
        // Splitting a batch changes only the order in which float sums are taken, but AdamW divides each
        // gradient by its own running magnitude, so a gradient near zero (the stem's, here about 1e-9
        // beside others of 1e-4) turns that rounding into updates of a few learning rates' thousandths;
        // after some steps the stem's weights then drift apart chaotically (3e-3, 5 steps: 2e-4).
        // At 1e-3 for 4 steps the largest difference measured here is 4.8e-6.
        const int steps = 4;
        // 9 samples a step: 8 image-text and 1 text-only, so one replica also gets no text-only share.
        var options = new TrainingOptions { Steps = 20, SamplesPerStep = 9, AccumulationSteps = accumulationSteps, WarmupSteps = 1, PeakLearningRate = 1e-3, Seed = 11, Threads = 1, Device = "cpu" };
        var single = Train(options, steps);
        var parallel = Train(options with { Device = "cpu,cpu" }, steps);
        var untrained = Train(options, 0);

        Assert.True(LargestDifference(single.Weights, untrained.Weights) > 1e-3, "the steps must move the weights, or equality would prove nothing");
        for (int i = 0; i < steps; i++) Assert.Equal(single.Losses[i], parallel.Losses[i], 1e-5);
        var worst = single.Weights.MaxBy(p => LargestDifference(new() { [p.Key] = p.Value }, parallel.Weights)).Key;
        Assert.True(LargestDifference(single.Weights, parallel.Weights) <= 1e-5, $"{worst} differs by {LargestDifference(new() { [worst] = single.Weights[worst] }, parallel.Weights)}");
    }

    [Fact]
    public void DeviceListsNameOnlyConcreteDevices()
    {
        Assert.Equal(["cpu", "cpu"], new TrainingOptions { Device = "cpu, cpu" }.Validate().ReplicaDevices());
        Assert.Equal(["cuda:0", "cuda:1"], new TrainingOptions { Device = "cuda:0,cuda:1" }.Validate().ReplicaDevices());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Device = "auto,cpu" }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Device = "cpu,gpu" }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Device = "cpu," }.Validate());
    }
}
