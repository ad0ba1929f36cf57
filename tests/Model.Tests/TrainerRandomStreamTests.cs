using Platform.Model.Training;

namespace Platform.Model.Tests;

/// <summary>
/// Each trainer draws its initialisation and its dropout and drop-path masks from its own stream
/// (<see cref="TorchRandomStream"/>), so a run's weights depend on its seed alone, not on what else the
/// process draws meanwhile.
/// </summary>
public sealed class TrainerRandomStreamTests
{
    // Dropout and drop-path on, so that every step draws masks: a shared generator would show in the weights.
    private static readonly SimVlmConfig Config = TestModels.Micro with { Dropout = 0.1, DropPath = 0.1 };
    private const int Steps = 3;

    private static TrainingOptions Options(ulong seed) =>
        new() { Steps = 20, SamplesPerStep = 6, WarmupSteps = 1, PeakLearningRate = 1e-3, Seed = seed, Threads = 1, Device = "cpu" };

    private static SimVlmTrainer NewTrainer(ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var pairs = Enumerable.Range(0, 12).Select(_ => TestModels.ImageTextSample(Config, random, random.Next(3, Config.MaxTextLength + 1))).ToArray();
        var documents = Enumerable.Range(0, 4).Select(_ => TestModels.TextOnlySample(Config, random, random.Next(3, Config.MaxTextLength + 1))).ToArray();
        return SimVlmTrainer.Start(Config, Options(seed), TextTokenizer.BuildGpt2([], Config.VocabSize), new InMemoryPrefixLmData(pairs, documents, seed));
    }

    private static Dictionary<string, float[]> Weights(SimVlmTrainer trainer) =>
        trainer.Model.named_parameters().ToDictionary(p => p.name, p => TestModels.Values(p.parameter));

    private static double LargestDifference(Dictionary<string, float[]> a, Dictionary<string, float[]> b) =>
        a.Max(p => p.Value.Zip(b[p.Key]).Max(pair => Math.Abs((double)pair.First - pair.Second)));

    private static Dictionary<string, float[]> TrainAlone(ulong seed)
    {
        using var trainer = NewTrainer(seed);
        for (int step = 0; step < Steps; step++) trainer.TrainStep();
        return Weights(trainer);
    }

    [Fact]
    public void TwoInterleavedTrainersEachGiveTheWeightsOfTheirRunAlone()
    {
        var aloneA = TrainAlone(1);
        var aloneB = TrainAlone(2);
        Assert.True(LargestDifference(aloneA, aloneB) > 1e-3, "the two runs must differ, or the comparison proves nothing");

        using var a = NewTrainer(1);
        using var b = NewTrainer(2);
        for (int step = 0; step < Steps; step++)
        {
            a.TrainStep();
            b.TrainStep();
        }
        Assert.True(LargestDifference(aloneA, Weights(a)) <= 1e-6, $"A differs by {LargestDifference(aloneA, Weights(a))}");
        Assert.True(LargestDifference(aloneB, Weights(b)) <= 1e-6, $"B differs by {LargestDifference(aloneB, Weights(b))}");
    }

    [Fact]
    public void TwoTrainersOnTheirOwnThreadsEachGiveTheWeightsOfTheirRunAlone()
    {
        var aloneA = TrainAlone(1);
        var aloneB = TrainAlone(2);
        Dictionary<string, float[]>? concurrentA = null, concurrentB = null;
        var threads = new[]
        {
            new Thread(() => concurrentA = TrainAlone(1)),
            new Thread(() => concurrentB = TrainAlone(2)),
        };
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        Assert.True(LargestDifference(aloneA, concurrentA!) <= 1e-6, $"A differs by {LargestDifference(aloneA, concurrentA!)}");
        Assert.True(LargestDifference(aloneB, concurrentB!) <= 1e-6, $"B differs by {LargestDifference(aloneB, concurrentB!)}");
    }

    [Fact]
    public void ATrainerWhoseInitRunsWhileOtherModelsAreCreatedGivesTheWeightsOfItsRunAlone()
    {
        var alone = TrainAlone(3);
        using var stop = new CancellationTokenSource();
        int created = 0;
        // Models built as an evaluation builds them, from the default generator, for as long as the trainer
        // initialises and trains.
        var builder = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var other = new SimVlmModel(Config);
                Interlocked.Increment(ref created);
            }
        });
        builder.Start();
        while (Volatile.Read(ref created) == 0) Thread.Sleep(1);
        Dictionary<string, float[]> alongside;
        try
        {
            alongside = TrainAlone(3);
        }
        finally
        {
            stop.Cancel();
            builder.Join();
        }
        Assert.True(created > 1, "models must have been created while the trainer ran");
        Assert.True(LargestDifference(alone, alongside) <= 1e-6, $"the run differs by {LargestDifference(alone, alongside)}");
    }

    [Fact]
    public void AStreamLeavesTheDefaultGeneratorWhereItWas()
    {
        var stream = new TorchRandomStream(5);
        TorchSharp.torch.manual_seed(42);
        float expected = TestModels.Values(TorchSharp.torch.rand(1))[0];
        TorchSharp.torch.manual_seed(42);
        using (stream.Enter()) TorchSharp.torch.rand(100).Dispose();
        Assert.Equal(expected, TestModels.Values(TorchSharp.torch.rand(1))[0]);
    }
}
