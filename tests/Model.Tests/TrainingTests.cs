using Platform.Model.Training;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>The training loop: schedule, data order, checkpoints, resume, cancellation, and learning itself.</summary>
public sealed class TrainingTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-training-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static readonly string[] Captions =
    [
        "a red bus on the street",
        "two dogs play with a ball",
        "a bowl of green apples",
        "snow on the mountain top",
    ];

    private static readonly string[] Documents =
    [
        "the quick brown fox jumps over the lazy dog",
        "green apples grow on trees in the autumn",
    ];

    private static SimVlmConfig ConfigFor(TextTokenizer tokenizer) => TestModels.Micro with { VocabSize = tokenizer.VocabSize };

    /// <summary>Each caption's image: a distinct smooth pattern, so that images differ in every patch.</summary>
    private static float[] Picture(SimVlmConfig config, int index)
    {
        int side = config.ImageSize;
        var pixels = new float[3 * side * side];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                    pixels[(c * side + y) * side + x] = MathF.Sin(0.7f * (index + 1) * (x + 1) + 1.3f * c + 0.4f * index * y);
        return pixels;
    }

    private static (TextTokenizer Tokenizer, InMemoryPrefixLmData Data, PrefixLmSample[] Pairs) Dataset(bool withDocuments, ulong seed)
    {
        var tokenizer = TextTokenizer.BuildGpt2(Captions.Concat(Documents), 500);
        var config = ConfigFor(tokenizer);
        var pairs = Captions.Select((c, i) => new PrefixLmSample(Picture(config, i), tokenizer.Encode(c, config.MaxTextLength))).ToArray();
        var documents = withDocuments ? Documents.Select(d => new PrefixLmSample(null, tokenizer.Encode(d, config.MaxTextLength))).ToArray() : [];
        return (tokenizer, new InMemoryPrefixLmData(pairs, documents, seed), pairs);
    }

    private static async Task<List<TrainingEvent>> Collect(SimVlmTrainer trainer, int? stopAfterStep = null)
    {
        var events = new List<TrainingEvent>();
        await foreach (var e in trainer.RunAsync(stopAfterStep, TestContext.Current.CancellationToken)) events.Add(e);
        return events;
    }

    private static Dictionary<string, float[]> Weights(SimVlmModel model) =>
        model.named_parameters().ToDictionary(p => p.name, p => TestModels.Values(p.parameter));

    [Fact]
    public void LearningRateWarmsUpLinearlyThenDecaysLinearlyToZero()
    {
        var schedule = new LearningRateSchedule(1e-3, WarmupSteps: 10, TotalSteps: 110);
        Assert.Equal(1e-4, schedule.At(0), 12);
        Assert.Equal(5e-4, schedule.At(4), 12);
        Assert.Equal(1e-3, schedule.At(9), 12);
        Assert.Equal(1e-3, schedule.At(10), 12);
        Assert.Equal(5e-4, schedule.At(60), 12);
        Assert.Equal(1e-5, schedule.At(109), 12);
        Assert.Equal(0, schedule.At(110));
        var rates = Enumerable.Range(0, 111).Select(schedule.At).ToArray();
        Assert.True(rates.Take(10).Zip(rates.Skip(1).Take(9)).All(p => p.First < p.Second));
        Assert.True(rates.Skip(10).Zip(rates.Skip(11)).All(p => p.First > p.Second));
    }

    [Fact]
    public void InMemoryDataVisitsEverySampleOncePerEpochAndResumesAtItsCursor()
    {
        var samples = Enumerable.Range(0, 7).Select(i => new PrefixLmSample(null, [SpecialTokens.Count + i, SpecialTokens.Eos])).ToArray();
        var data = new InMemoryPrefixLmData([], samples, seed: 3);
        var firstEpoch = data.NextTextOnly(7).Select(s => s.Text[0]).ToArray();
        Assert.Equal(samples.Select(s => s.Text[0]).Order(), firstEpoch.Order());
        Assert.NotEqual(samples.Select(s => s.Text[0]), firstEpoch); // shuffled

        var partial = data.NextTextOnly(3);
        string cursor = data.SaveCursor();
        var expected = data.NextTextOnly(9).Select(s => s.Text[0]).ToArray();
        var restored = new InMemoryPrefixLmData([], samples, seed: 3);
        restored.RestoreCursor(cursor);
        Assert.Equal(expected, restored.NextTextOnly(9).Select(s => s.Text[0]).ToArray());
        Assert.Throws<FormatException>(() => restored.RestoreCursor("nonsense"));
        Assert.Throws<InvalidOperationException>(() => restored.NextImageText(1));
    }

    [Fact]
    public async Task TinyModelMemorisesCaptionsUntilGreedyAndBeamDecodingReproduceThem()
    {
        var (tokenizer, data, pairs) = Dataset(withDocuments: false, seed: 11);
        var options = new TrainingOptions
        {
            Steps = 250, SamplesPerStep = 8, PeakLearningRate = 3e-3, WarmupSteps = 20, Threads = 2, Seed = 5, Device = "cpu",
        };
        using var trainer = SimVlmTrainer.Start(ConfigFor(tokenizer), options, tokenizer, data);
        var events = await Collect(trainer);
        var losses = events.OfType<StepCompleted>().Select(e => e.Metrics.Loss).ToArray();
        Assert.Equal(250, losses.Length);
        Assert.True(losses.TakeLast(10).Average() < 0.1 * losses.Take(10).Average(), $"loss fell only from {losses.Take(10).Average()} to {losses.TakeLast(10).Average()}");

        using var images = tensor(pairs.SelectMany(p => p.Pixels!).ToArray(), [pairs.Length, 3, trainer.Model.Config.ImageSize, trainer.Model.Config.ImageSize]);
        var greedy = CaptionDecoder.Greedy(trainer.Model, images, pairs.Select(_ => Array.Empty<int>()).ToArray(), maxTokens: 16);
        Assert.Equal(Captions, greedy.Select(d => tokenizer.Decode(d.Tokens)));
        for (int i = 0; i < pairs.Length; i++)
            Assert.Equal(Captions[i], tokenizer.Decode(CaptionDecoder.Beam(trainer.Model, images[i], [], beamSize: 3, maxTokens: 16).Tokens));
    }

    [Fact]
    public async Task ResumingFromACheckpointGivesTheSameWeightsAsAnUninterruptedRun()
    {
        var options = new TrainingOptions
        {
            Steps = 6, SamplesPerStep = 6, AccumulationSteps = 2, ImageTextRatio = 2, TextOnlyRatio = 1,
            PeakLearningRate = 1e-3, WarmupSteps = 2, Threads = 1, Seed = 9, Device = "cpu", CheckpointEvery = 0,
        };
        var (tokenizer, data, _) = Dataset(withDocuments: true, seed: 4);
        var config = ConfigFor(tokenizer) with { Dropout = 0.1 }; // dropout makes the torch generator part of the state
        using var straight = SimVlmTrainer.Start(config, options, tokenizer, data);
        await Collect(straight);
        var expected = Weights(straight.Model);

        string run = Path.Combine(folder, "run");
        var (_, firstData, _) = Dataset(withDocuments: true, seed: 4);
        using (var first = SimVlmTrainer.Start(config, options with { CheckpointDirectory = run }, tokenizer, firstData))
        {
            var events = await Collect(first, stopAfterStep: 3);
            Assert.Equal(3, Assert.Single(events.OfType<CheckpointSaved>()).Step);
        }
        var (_, resumedData, _) = Dataset(withDocuments: true, seed: 4);
        using var resumed = SimVlmTrainer.Resume(run, resumedData);
        Assert.Equal(3, resumed.Step);
        var rest = await Collect(resumed);
        Assert.Equal([4, 5, 6], rest.OfType<StepCompleted>().Select(e => e.Metrics.Step));

        var actual = Weights(resumed.Model);
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, values) in expected) Assert.True(values.SequenceEqual(actual[name]), $"{name} differs after resuming");
    }

    [Fact]
    public async Task CheckpointsArePublishedWholeAndLatestNamesTheNewest()
    {
        var (tokenizer, data, _) = Dataset(withDocuments: true, seed: 2);
        var options = new TrainingOptions { Steps = 5, SamplesPerStep = 3, Threads = 1, Device = "cpu", CheckpointEvery = 2, CheckpointDirectory = folder };
        using var trainer = SimVlmTrainer.Start(ConfigFor(tokenizer), options, tokenizer, data);
        var events = await Collect(trainer);

        Assert.Equal([2, 4, 5], events.OfType<CheckpointSaved>().Select(e => e.Step));
        Assert.Equal(["latest", "step-00000002", "step-00000004", "step-00000005"], Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order());
        string latest = Checkpoint.Latest(folder)!;
        Assert.Equal("step-00000005", Path.GetFileName(latest));
        Assert.Equal(
            [Checkpoint.ModelFile, Checkpoint.OptimizerFile, Checkpoint.StateFile, Checkpoint.VocabularyFile],
            Directory.EnumerateFiles(latest).Select(Path.GetFileName).Order());
        var state = Checkpoint.ReadState(latest);
        Assert.Equal(5, state.Step);
        Assert.Equal(trainer.Model.Config.Width, state.Config.Width);
        Assert.Equal(trainer.Model.Config.StageDepths, state.Config.StageDepths);
        Assert.Equal(tokenizer.VocabSize, TextTokenizer.Load(Path.Combine(latest, Checkpoint.VocabularyFile)).VocabSize);

        // A failed save leaves neither a partial folder nor a moved pointer.
        Assert.Throws<IOException>(() => Checkpoint.Save(folder, 6, staging => throw new IOException("disk full")));
        Assert.Equal(latest, Checkpoint.Latest(folder));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(folder), e => Path.GetFileName(e).StartsWith('.'));
    }

    [Fact]
    public async Task CancellationStopsBetweenStepsAndKeepsTheWork()
    {
        var (tokenizer, data, _) = Dataset(withDocuments: true, seed: 3);
        var options = new TrainingOptions { Steps = 1000, SamplesPerStep = 3, Threads = 1, Device = "cpu", CheckpointEvery = 0, CheckpointDirectory = folder };
        using var trainer = SimVlmTrainer.Start(ConfigFor(tokenizer), options, tokenizer, data);
        using var cancellation = new CancellationTokenSource();
        var events = new List<TrainingEvent>();
        await foreach (var e in trainer.RunAsync(cancellationToken: cancellation.Token))
        {
            events.Add(e);
            if (e is StepCompleted { Metrics.Step: 2 }) cancellation.Cancel();
        }
        var finished = Assert.IsType<TrainingFinished>(events[^1]);
        Assert.True(finished.Cancelled);
        Assert.InRange(finished.Step, 2, 999);
        Assert.Equal(finished.Step, Assert.Single(events.OfType<CheckpointSaved>()).Step);
        Assert.Equal(finished.Step, Checkpoint.ReadState(Checkpoint.Latest(folder)!).Step);
    }

    [Fact]
    public async Task StepMetricsReportTheScheduleTheMixAndTheWork()
    {
        var (tokenizer, data, _) = Dataset(withDocuments: true, seed: 6);
        var options = new TrainingOptions
        {
            Steps = 4, SamplesPerStep = 9, WarmupSteps = 2, PeakLearningRate = 1e-3, Threads = 1, Device = "cpu", PeakFlopsPerSecond = 1e12,
        };
        using var trainer = SimVlmTrainer.Start(ConfigFor(tokenizer), options, tokenizer, data);
        var metrics = (await Collect(trainer)).OfType<StepCompleted>().Select(e => e.Metrics).ToArray();
        var schedule = new LearningRateSchedule(1e-3, 2, 4);
        Assert.Equal([1, 2, 3, 4], metrics.Select(m => m.Step));
        Assert.Equal(Enumerable.Range(0, 4).Select(schedule.At), metrics.Select(m => m.LearningRate));
        Assert.All(metrics, m =>
        {
            Assert.Equal((8, 1), (m.ImageTextSamples, m.TextOnlySamples));
            Assert.True(m.Loss > 0 && double.IsFinite(m.Loss));
            Assert.True(m.GradientNorm > 0 && m.Updated);
            Assert.True(m.ModelTokens > m.TargetTokens && m.TargetTokens >= 9);
            Assert.True(m.PaddedTokens >= m.ModelTokens, "padding adds positions, never removes them");
            Assert.True(m.Flops > 0 && m.TokensPerSecond > 0);
            Assert.Equal(m.Flops / m.StepSeconds / 1e12, m.Mfu!.Value, 9);
            Assert.Equal(m.StepSeconds, m.DataSeconds + m.ComputeSeconds + m.OptimizerSeconds, 9);
        });
        Assert.Equal("cpu", trainer.Device.type.ToString().ToLowerInvariant());
    }

    /// <summary>
    /// The bfloat16 path (CUDA's default) run on the CPU: forward and backward in a bfloat16 copy,
    /// float32 master weights in the optimiser. An update of about 1e-5 on weights of about 0.02 is
    /// far below bfloat16's resolution (1/256 of the weight); only float32 master weights keep it.
    /// </summary>
    [Fact]
    public void Bfloat16TrainingKeepsFloat32MasterWeightsThatReceiveEveryUpdate()
    {
        var (tokenizer, data, _) = Dataset(withDocuments: true, seed: 4);
        var options = new TrainingOptions
        {
            Steps = 10, SamplesPerStep = 6, PeakLearningRate = 1e-5, WarmupSteps = 0, WeightDecay = 0, Threads = 2, Seed = 9, Device = "cpu", Precision = "bf16",
        };
        using var trainer = SimVlmTrainer.Start(ConfigFor(tokenizer), options, tokenizer, data);
        Assert.All(trainer.Model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        var before = Weights(trainer.Model);
        var first = trainer.TrainStep();
        Assert.True(first.Updated && double.IsFinite(first.Loss));
        var after = Weights(trainer.Model);
        long changed = 0, total = 0;
        foreach (var (name, values) in before)
            for (int i = 0; i < values.Length; i++)
            {
                if (values[i] == 0) continue; // padding row, zero biases: Adam still moves them, but skip to keep the ratio about weights
                total++;
                if (after[name][i] != values[i]) changed++;
            }
        Assert.True(changed > 0.9 * total, $"only {changed} of {total} master weights moved");

        // Same initial weights and samples in float32: the first loss agrees to bfloat16's precision.
        var (_, fp32Data, _) = Dataset(withDocuments: true, seed: 4);
        using var reference = SimVlmTrainer.Start(ConfigFor(tokenizer), options with { Precision = "fp32" }, tokenizer, fp32Data);
        Assert.Equal(reference.TrainStep().Loss, first.Loss, 0.05 * first.Loss);
    }
}
