using CsCheck;
using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;

namespace Platform.Model.Tests;

/// <summary>
/// DiLoCo's pieces: the outer optimiser, pseudo-gradient chunks and their averaging, the data partition,
/// and the whole round against plain training. (Model.Tests runs one test class at a time, which gives
/// weight comparisons the isolation that ExactWeightsCollection gives them in Platform.Tests.)
/// </summary>
public sealed class DiLoCoTests
{
    private static readonly SimVlmConfig Config = TestModels.Micro with { Dropout = 0.1 };

    private static InMemoryPrefixLmData Data(ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var pairs = Enumerable.Range(0, 24).Select(_ => TestModels.ImageTextSample(Config, random, random.Next(3, Config.MaxTextLength + 1))).ToArray();
        var documents = Enumerable.Range(0, 6).Select(_ => TestModels.TextOnlySample(Config, random, random.Next(3, Config.MaxTextLength + 1))).ToArray();
        return new InMemoryPrefixLmData(pairs, documents, seed);
    }

    private static readonly TrainingOptions Options = new() { Steps = 20, SamplesPerStep = 9, WarmupSteps = 1, PeakLearningRate = 1e-3, Seed = 5, Threads = 1, Device = "cpu" };

    private static SimVlmTrainer NewTrainer() => SimVlmTrainer.Start(Config, Options, TextTokenizer.BuildGpt2([], Config.VocabSize), Data(7));

    private static double LargestDifference(IReadOnlyList<NamedArray> a, IReadOnlyList<NamedArray> b) =>
        a.Zip(b).Max(p => p.First.Values.Zip(p.Second.Values).Max(v => Math.Abs((double)v.First - v.Second)));

    [Fact]
    public void OneReplicaSyncingEveryStepWithOuterLearningRateOneAndNoMomentumEqualsPlainTraining()
    {
        const int steps = 5;
        IReadOnlyList<NamedArray> plain, untrained;
        using (var trainer = NewTrainer())
        {
            untrained = NamedWeights.Read(trainer.Model);
            for (int i = 0; i < steps; i++) trainer.TrainStep();
            plain = NamedWeights.Read(trainer.Model);
        }
        IReadOnlyList<NamedArray> diloco;
        using (var trainer = NewTrainer())
        {
            // Chunks far smaller than a parameter: the round trip through many chunks is part of what must not change anything.
            var run = new InProcessDiLoCo([trainer], new DiLoCoOptions { Trainers = 1, SyncEvery = 1, OuterLearningRate = 1, OuterMomentum = 0 }, maxChunkBytes: 1000);
            for (int i = 0; i < steps; i++) run.RunRound();
            Assert.Equal(steps, run.Outer.Round);
            diloco = run.Outer.Weights;
        }

        Assert.True(LargestDifference(plain, untrained) > 1e-3, "the steps must move the weights, or equality would prove nothing");
        double difference = LargestDifference(plain, diloco);
        Assert.True(difference <= 1e-5, $"DiLoCo's weights differ from plain training's by {difference}");
    }

    [Fact]
    public void TwoReplicasOnDisjointHalvesReachTheLossOfOneReplicaWithTwiceTheBatchForTheSameSamples()
    {
        var config = TestModels.Micro;
        var random = new DeterministicRandom(21);
        var pairs = Enumerable.Range(0, 32).Select(_ => TestModels.ImageTextSample(config, random, random.Next(3, config.MaxTextLength + 1))).ToArray();
        var options = new TrainingOptions { Steps = 32, SamplesPerStep = 4, WarmupSteps = 2, PeakLearningRate = 3e-3, Seed = 3, Threads = 1, Device = "cpu" };
        var tokenizer = TextTokenizer.BuildGpt2([], config.VocabSize);

        double Loss(SimVlmModel model)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            using var noGrad = TorchSharp.torch.no_grad();
            model.eval();
            var batch = PrefixLm.Build(pairs, config, new DeterministicRandom(99));
            var (summed, tokens) = model.SuffixLoss(batch);
            double loss = summed.item<float>() / tokens;
            model.train();
            return loss;
        }

        double untrained, single;
        using (var trainer = SimVlmTrainer.Start(config, options with { SamplesPerStep = 8 }, tokenizer, new InMemoryPrefixLmData(pairs, [], 5)))
        {
            untrained = Loss(trainer.Model);
            for (int i = 0; i < options.Steps; i++) trainer.TrainStep();
            single = Loss(trainer.Model);
        }
        double diloco;
        var halves = Enumerable.Range(0, 2).Select(rank => new InMemoryPrefixLmData(pairs.Where((_, i) => i % 2 == rank).ToArray(), [], 5 + (ulong)rank)).ToArray();
        using (var first = SimVlmTrainer.Start(config, options, tokenizer, halves[0]))
        using (var second = SimVlmTrainer.Start(config, options, tokenizer, halves[1]))
        {
            // Measured here (loss on all 32 pairs): untrained 3.684, one replica with batch 8 3.245, two replicas with batch 4
            // and H = 4: 3.300 at outer lr 0.7 and momentum 0.5 (1.7 % above), 3.326 at lr 1 without momentum (plain averaging).
            // The paper's momentum 0.9 overshoots in a run of only 8 rounds (3.980): it is made for hundreds of rounds.
            var run = new InProcessDiLoCo([first, second], new DiLoCoOptions { Trainers = 2, SyncEvery = 4, OuterLearningRate = 0.7, OuterMomentum = 0.5 });
            for (int round = 0; round < options.Steps / 4; round++) run.RunRound();
            run.PublishWeights();
            diloco = Loss(first.Model);
        }
        Assert.True(single < untrained - 0.2, $"the baseline must learn ({untrained} to {single}) for the comparison to mean anything");
        Assert.True(diloco <= single * 1.05, $"two replicas reached {diloco}, more than 5 % above one replica's {single}");
    }

    [Fact]
    public async Task ARunSavedAtARoundBoundaryAndResumedInNewTrainersEndsWithTheWeightsOfTheUninterruptedRun()
    {
        const int rounds = 4, savedAfter = 2;
        var options = new DiLoCoOptions { Trainers = 2, SyncEvery = 2, OuterLearningRate = 0.7, OuterMomentum = 0.9 };
        var tokenizer = TextTokenizer.BuildGpt2([], Config.VocabSize);
        SimVlmTrainer[] NewReplicas() => [.. Enumerable.Range(0, 2).Select(rank => SimVlmTrainer.Start(Config, Options, tokenizer, Data(7 + (ulong)rank)))];

        IReadOnlyList<NamedArray> uninterrupted, untrained;
        var trainers = NewReplicas();
        try
        {
            var run = new InProcessDiLoCo(trainers, options);
            untrained = NamedWeights.Clone(run.Outer.Weights);
            for (int round = 0; round < rounds; round++) run.RunRound();
            uninterrupted = run.Outer.Weights;
        }
        finally
        {
            foreach (var trainer in trainers) trainer.Dispose();
        }

        string directory = Path.Combine(Path.GetTempPath(), $"diloco-resume-{Guid.NewGuid():N}");
        trainers = NewReplicas();
        try
        {
            var first = new InProcessDiLoCo(trainers, options);
            for (int round = 0; round < savedAfter; round++) first.RunRound();
            await first.SaveAsync(DiLoCoExchange.InFolder(directory), TestContext.Current.CancellationToken);
            foreach (var trainer in trainers) trainer.Dispose();

            // New trainers on new data objects, as after a restart of every process; dropout draws make the random streams matter too.
            trainers = [];
            var resumed = await InProcessDiLoCo.ResumeAsync(DiLoCoExchange.InFolder(directory), options, Options, rank => Data(7 + (ulong)rank),
                cancellationToken: TestContext.Current.CancellationToken);
            trainers = [.. resumed.Trainers];
            Assert.Equal(savedAfter, resumed.Outer.Round);
            Assert.All(resumed.Trainers, trainer => Assert.Equal(savedAfter * options.SyncEvery, trainer.Step));
            for (int round = savedAfter; round < rounds; round++) resumed.RunRound();

            Assert.True(LargestDifference(uninterrupted, untrained) > 1e-3, "the rounds must move the weights, or equality would prove nothing");
            double difference = LargestDifference(uninterrupted, resumed.Outer.Weights);
            Assert.True(difference <= 1e-5, $"the resumed run's weights differ from the uninterrupted run's by {difference}");
        }
        finally
        {
            foreach (var trainer in trainers) trainer.Dispose();
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void TheOuterStepIsNesterovMomentumSgdOnTheMeanPseudoGradient()
    {
        var outer = new OuterOptimizer([new NamedArray("w", [1f, -2f])], learningRate: 0.5, momentumFactor: 0.9);
        outer.Step([new NamedArray("w", [0.2f, 0.4f])]);
        // buffer = g; w -= lr (g + μ buffer) = 0.5 · 1.9 g
        Assert.Equal(1f - 0.5f * 1.9f * 0.2f, outer.Weights[0].Values[0], 6);
        Assert.Equal(-2f - 0.5f * 1.9f * 0.4f, outer.Weights[0].Values[1], 6);
        outer.Step([new NamedArray("w", [0.1f, 0f])]);
        // buffer = 0.9 · 0.2 + 0.1 = 0.28; w -= 0.5 (0.1 + 0.9 · 0.28)
        Assert.Equal(1f - 0.19f - 0.5f * (0.1f + 0.9f * 0.28f), outer.Weights[0].Values[0], 6);
        Assert.Equal(2, outer.Round);
    }

    [Fact]
    public async Task OuterStateSurvivesSaveAndLoad()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"diloco-outer-{Guid.NewGuid():N}");
        try
        {
            var outer = new OuterOptimizer([new NamedArray("a", [1f, 2f, 3f]), new NamedArray("b", [4f])], 0.7, 0.9);
            outer.Step([new NamedArray("a", [0.5f, -0.5f, 0.25f]), new NamedArray("b", [1f])]);
            await outer.SaveAsync(DiLoCoExchange.InFolder(directory), "", TestContext.Current.CancellationToken);
            Assert.Null(await OuterOptimizer.LoadLatestAsync(Path.Combine(directory, "absent")));

            var loaded = (await OuterOptimizer.LoadLatestAsync(directory))!;
            Assert.Equal(1, loaded.Round);
            Assert.Equal(0.7, loaded.LearningRate);
            Assert.Equal(0.9, loaded.Momentum);
            Assert.Equal(outer.Weights.Select(w => w.Values), loaded.Weights.Select(w => w.Values));
            Assert.Equal(outer.MomentumBuffer.Select(w => w.Values), loaded.MomentumBuffer.Select(w => w.Values));
            // The loaded optimiser continues as the original would.
            var next = new[] { new NamedArray("a", [0.1f, 0.1f, 0.1f]), new NamedArray("b", [0f]) };
            outer.Step(next);
            loaded.Step(next);
            Assert.Equal(outer.Weights.Select(w => w.Values), loaded.Weights.Select(w => w.Values));
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task OuterStateLoadsWhileAnotherWriterSavesNewerRoundsAndDeletesOlderOnes()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"diloco-outer-race-{Guid.NewGuid():N}");
        try
        {
            // Large enough that a load takes a while, so the writer's deletions land inside loads.
            var outer = new OuterOptimizer([new NamedArray("w", new float[1 << 20])], 0.7, 0.9);
            var gradient = new[] { new NamedArray("w", Enumerable.Repeat(0.01f, 1 << 20).ToArray()) };
            var exchange = DiLoCoExchange.InFolder(directory);
            await outer.SaveAsync(exchange, "", TestContext.Current.CancellationToken);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            var writer = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    outer.Step(gradient);
                    await outer.SaveAsync(exchange, "", CancellationToken.None);
                    await OuterOptimizer.DeleteBeforeAsync(exchange, "", outer.Round, CancellationToken.None);
                }
            }, TestContext.Current.CancellationToken);
            int loads = 0, lastRound = 0;
            while (!writer.IsCompleted)
            {
                var loaded = (await OuterOptimizer.LoadLatestAsync(directory))!;
                Assert.True(loaded.Round >= lastRound, $"round {loaded.Round} loaded after round {lastRound}");
                lastRound = loaded.Round;
                loads++;
            }
            await writer;
            Assert.True(loads > 1 && lastRound > 1, $"{loads} loads saw rounds up to {lastRound}: the race was not run");
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    private static readonly Gen<NamedArray[]> AnyArrays =
        Gen.Int[1, 5].SelectMany(count => Gen.Select(Gen.Int[0, 300].Select(length => Gen.Float[-1e6f, 1e6f].Array[length]).SelectMany(g => g), Gen.Int[1, 40]).Array[count])
            .Select(arrays => arrays.Select((a, i) => new NamedArray($"layer{i}.weight{new string('x', a.Item2)}", a.Item1)).ToArray());

    [Fact]
    public void ChunksStayUnderTheLimitAndReassembleExactlyInAnyOrder()
    {
        Gen.Select(AnyArrays, Gen.Int[120, 4000], Gen.Int[0, int.MaxValue]).Sample((arrays, limit, shuffleSeed) =>
        {
            var chunks = WeightChunks.Split(arrays, SyncPrecisions.Fp32, limit).ToArray();
            Assert.All(chunks, chunk => Assert.True(chunk.Length <= limit, $"a chunk of {chunk.Length} bytes exceeds {limit}"));
            var random = new Random(shuffleSeed);
            var shuffled = chunks.OrderBy(_ => random.Next()).ToArray();
            var assembled = WeightChunks.Assemble(shuffled).ToDictionary(a => a.Name, a => a.Values);
            Assert.Equal(arrays.Length, assembled.Count);
            foreach (var array in arrays) Assert.Equal(array.Values, assembled[array.Name]);
        }, iter: 200);
    }

    [Fact]
    public void Bf16ChunksHalveTheBytesAndRoundToNearest()
    {
        var values = Enumerable.Range(0, 10_000).Select(i => MathF.Sin(i) * 3).Append(1f + 1f / 256).Append(float.NaN).ToArray();
        var arrays = new[] { new NamedArray("w", values) };
        long fp32 = WeightChunks.Split(arrays, SyncPrecisions.Fp32, 4096).Sum(c => (long)c.Length);
        var bf16Chunks = WeightChunks.Split(arrays, SyncPrecisions.Bf16, 4096).ToArray();
        Assert.InRange(bf16Chunks.Sum(c => (long)c.Length), fp32 * 0.45, fp32 * 0.55);
        var back = WeightChunks.Assemble(bf16Chunks)[0].Values;
        for (int i = 0; i < values.Length - 1; i++)
            Assert.True(Math.Abs(back[i] - values[i]) <= Math.Abs(values[i]) / 256, $"{values[i]} came back as {back[i]}");
        // 1 + 1/256 lies halfway between two bf16 values: ties go to the even one, 1.
        Assert.Equal(1f, back[^2]);
        Assert.True(float.IsNaN(back[^1]));
    }

    [Fact]
    public void AssemblyRejectsMissingAndRepeatedValues()
    {
        var chunks = WeightChunks.Split([new NamedArray("w", new float[100])], SyncPrecisions.Fp32, 200).ToArray();
        Assert.True(chunks.Length > 2);
        Assert.Throws<InvalidDataException>(() => WeightChunks.Assemble(chunks.Skip(1)));
        Assert.Throws<InvalidDataException>(() => WeightChunks.Assemble(chunks.Append(chunks[0])));
        Assert.Throws<InvalidDataException>(() => WeightChunks.Read(chunks[0][..^3]));
    }

    [Fact]
    public void TheAveragerCountsARepeatedChunkOnceAndAveragesOnlyCompleteReplicas()
    {
        var template = new[] { new NamedArray("a", new float[50]), new NamedArray("b", new float[7]) };
        NamedArray[] Gradient(float value) => template.Select(t => new NamedArray(t.Name, Enumerable.Repeat(value, t.Values.Length).ToArray())).ToArray();
        var first = WeightChunks.Split(Gradient(1), SyncPrecisions.Fp32, 100).ToArray();
        var second = WeightChunks.Split(Gradient(3), SyncPrecisions.Fp32, 100).ToArray();

        var averager = new PseudoGradientAverager(template);
        foreach (var chunk in first) averager.Add(0, chunk);
        Assert.True(averager.Add(0, first[0]), "a repeated chunk leaves the replica complete");
        for (int i = 0; i < second.Length - 1; i++) Assert.False(averager.Add(1, second[i]));
        Assert.Throws<InvalidOperationException>(averager.Average);
        Assert.True(averager.Add(1, second[^1]));

        Assert.Equal([0, 1], averager.CompleteReplicas);
        Assert.Equal(first.Sum(c => (long)c.Length) + second.Sum(c => (long)c.Length), averager.BytesReceived);
        Assert.All(averager.Average(), mean => Assert.All(mean.Values, v => Assert.Equal(2f, v)));
    }

    [Fact]
    public void EachEpochGivesEveryPartToExactlyOneReplicaRound()
    {
        Gen.Select(Gen.Int[1, 40], Gen.Int[1, 8], Gen.ULong, Gen.Int[1, 30]).Sample((parts, replicas, seed, rounds) =>
        {
            var partition = new DataPartition(parts, seed);
            var byEpoch = new Dictionary<int, List<int>>();
            for (int round = 0; round < rounds; round++)
                for (int rank = 0; rank < replicas; rank++)
                {
                    var (epoch, part) = partition.PartFor(round, rank, replicas);
                    Assert.InRange(part, 0, parts - 1);
                    Assert.Equal(part, new DataPartition(parts, seed).PartFor(round, rank, replicas).Part);
                    (byEpoch.TryGetValue(epoch, out var list) ? list : byEpoch[epoch] = []).Add(part);
                }
            foreach (var (epoch, given) in byEpoch)
            {
                Assert.Equal(given.Count, given.Distinct().Count());
                // Every epoch that the rounds got through is covered completely.
                if ((epoch + 1L) * parts <= (long)rounds * replicas) Assert.Equal(Enumerable.Range(0, parts), given.Order());
            }
        }, iter: 300);
    }
}
