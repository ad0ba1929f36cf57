using Platform.Model.Training;

namespace Platform.Model.Tests;

/// <summary>The background data loader: bounded, ordered, failures surfaced, and training through it unchanged.</summary>
public sealed class BackgroundLoaderTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-loader-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private sealed class Item(int number, List<int> disposed) : IDisposable
    {
        public int Number { get; } = number;

        public void Dispose()
        {
            lock (disposed) disposed.Add(Number);
        }
    }

    [Fact]
    public void ItemsComeInPreparationOrderAndNoMoreThanTheCapacityArePreparedAhead()
    {
        int prepared = 0;
        var disposed = new List<int>();
        using (var loader = new BackgroundBatchLoader<Item>(() => new Item(Interlocked.Increment(ref prepared) - 1, disposed), capacity: 3))
        {
            Thread.Sleep(300); // time to run ahead, were it unbounded
            Assert.InRange(Volatile.Read(ref prepared), 0, 3);
            for (int i = 0; i < 10; i++)
                using (var item = loader.Take())
                    Assert.Equal(i, item.Number);
            Thread.Sleep(300);
            Assert.InRange(Volatile.Read(ref prepared), 10, 13);
        }
        // The items prepared but never taken are disposed with the loader.
        lock (disposed) Assert.Equal(Enumerable.Range(0, Volatile.Read(ref prepared)), disposed.Order());
    }

    [Fact]
    public void AFailedPreparationIsThrownAtTheTakeThatWouldHaveReturnedIt()
    {
        int prepared = 0;
        var disposed = new List<int>();
        using var loader = new BackgroundBatchLoader<Item>(() =>
        {
            int number = prepared++;
            return number == 2 ? throw new InvalidDataException("shard 7 is cut short") : new Item(number, disposed);
        }, capacity: 4);
        Assert.Equal(0, loader.Take().Number);
        Assert.Equal(1, loader.Take().Number);
        var failure = Assert.Throws<InvalidOperationException>(() => loader.Take());
        Assert.IsType<InvalidDataException>(failure.InnerException);
        Assert.Contains("shard 7 is cut short", failure.Message);
    }

    private static readonly string[] Captions = ["a red bus on the street", "two dogs play with a ball", "a bowl of green apples", "snow on the mountain top", "a cat under a chair"];
    private static readonly string[] Documents = ["the quick brown fox jumps over the lazy dog", "green apples grow on trees in the autumn"];

    internal static (TextTokenizer Tokenizer, SimVlmConfig Config, Func<IPrefixLmData> NewData) Dataset()
    {
        var tokenizer = TextTokenizer.BuildGpt2(Captions.Concat(Documents), 500);
        var config = TestModels.Micro with { VocabSize = tokenizer.VocabSize, Dropout = 0.1 }; // dropout draws from the run's stream too
        var random = new DeterministicRandom(5);
        var pairs = Captions.Select(c => new PrefixLmSample(TestModels.RandomPixels(config, random), tokenizer.Encode(c, config.MaxTextLength))).ToArray();
        var documents = Documents.Select(d => new PrefixLmSample(null, tokenizer.Encode(d, config.MaxTextLength))).ToArray();
        return (tokenizer, config, () => new InMemoryPrefixLmData(pairs, documents, 4));
    }

    internal static readonly TrainingOptions Options = new()
    {
        Steps = 6, SamplesPerStep = 6, AccumulationSteps = 2, ImageTextRatio = 2, TextOnlyRatio = 1,
        PeakLearningRate = 1e-3, WarmupSteps = 2, Threads = 1, Seed = 9, Device = "cpu", CheckpointEvery = 0,
    };

    private static async Task Run(SimVlmTrainer trainer, int? stopAfterStep = null)
    {
        await foreach (var _ in trainer.RunAsync(stopAfterStep, TestContext.Current.CancellationToken)) { }
    }

    internal static void AssertSameWeights(SimVlmModel expected, SimVlmModel actual, double tolerance)
    {
        var actualWeights = actual.named_parameters().ToDictionary(p => p.name, p => TestModels.Values(p.parameter));
        foreach (var (name, parameter) in expected.named_parameters())
        {
            var want = TestModels.Values(parameter);
            var got = actualWeights[name];
            double largest = want.Zip(got, (a, b) => Math.Abs((double)a - b)).Max();
            Assert.True(largest <= tolerance, $"{name} differs by {largest:E2}");
        }
    }

    [Fact]
    public async Task TrainingThroughTheLoaderGivesTheWeightsOfTheSynchronousPath()
    {
        var (tokenizer, config, newData) = Dataset();
        using var synchronous = SimVlmTrainer.Start(config, Options, tokenizer, newData());
        await Run(synchronous);
        using var loaded = SimVlmTrainer.Start(config, Options with { PrefetchSteps = 2 }, tokenizer, newData());
        await Run(loaded);
        Assert.Equal(6, loaded.Step);
        AssertSameWeights(synchronous.Model, loaded.Model, 1e-6);
    }

    [Fact]
    public async Task ACheckpointTakenWhileTheLoaderIsAheadResumesAtTheNextStepsSamples()
    {
        var (tokenizer, config, newData) = Dataset();
        using var straight = SimVlmTrainer.Start(config, Options, tokenizer, newData());
        await Run(straight);

        string run = Path.Combine(folder, "run");
        using (var first = SimVlmTrainer.Start(config, Options with { PrefetchSteps = 3 }, tokenizer, newData()))
        {
            for (int i = 0; i < 3; i++) first.TrainStep();
            Thread.Sleep(300); // the loader has drawn steps 4 to 6 by now; the checkpoint must not skip them
            first.SaveCheckpoint(run);
        }
        using var resumed = SimVlmTrainer.Resume(run, newData(), Options with { PrefetchSteps = 3 });
        Assert.Equal(3, resumed.Step);
        await Run(resumed);
        AssertSameWeights(straight.Model, resumed.Model, 1e-6);
    }
}
