using Platform.Model.Evaluation.Checkpoints;
using Platform.Model.Training;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>The paper's recipe: dropout and drop-path settings, fine-tuning at a higher resolution, the model sizes.</summary>
public sealed class RecipeTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), $"recipe-tests-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    private static PrefixLmBatch Batch(SimVlmConfig config)
    {
        var random = new DeterministicRandom(4);
        var samples = Enumerable.Range(0, 4).Select(_ => TestModels.ImageTextSample(config, random, 6)).ToArray();
        return PrefixLm.Build(samples, [2, 2, 2, 2], config);
    }

    private static float[] Loss(SimVlmModel model, PrefixLmBatch batch)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return TestModels.Values(model.SuffixLoss(batch).SummedLoss);
    }

    [Fact]
    public void ThePaperPretrainsWithoutDropoutAndFineTunesWithDropoutAndDropPath()
    {
        foreach (string preset in SimVlmConfig.PresetNames)
        {
            Assert.Equal(0.0, SimVlmConfig.Preset(preset).Dropout);
            Assert.Equal(0.0, SimVlmConfig.Preset(preset).DropPath);
        }
        Assert.Equal(0.1, new FineTuneOptions().Dropout);
        Assert.Equal(0.1, new FineTuneOptions().DropPath);
        Assert.Throws<ArgumentException>(() => (TestModels.Micro with { DropPath = 1.0 }).Validate());
    }

    [Fact]
    public void DropPathChangesTrainingForwardPassesOnlyAboveZero()
    {
        using var batch = Batch(TestModels.Micro);
        using var plain = TestModels.NewModel(TestModels.Micro, 5);
        using var dropping = TestModels.NewModel(TestModels.Micro with { DropPath = 0.5 }, 5);
        float evaluated = Loss(plain, batch)[0];
        Assert.Equal(evaluated, Loss(dropping, batch)[0]); // evaluation mode: no drop-path, same weights, same loss

        plain.train();
        dropping.train();
        Assert.Equal(evaluated, Loss(plain, batch)[0], 5); // rate 0 (and no dropout): training computes what evaluation does
        var losses = Enumerable.Range(0, 8).Select(_ => Loss(dropping, batch)[0]).ToArray();
        Assert.True(losses.Distinct().Count() > 1, $"rate 0.5 must drop different branches from pass to pass: {string.Join(", ", losses)}");
    }

    [Fact]
    public void FineTuningRecordsItsDropoutAndDropPathInTheCheckpoint()
    {
        var config = TestModels.Micro;
        var random = new DeterministicRandom(9);
        var samples = Enumerable.Range(0, 6).Select(_ => TestModels.ImageTextSample(config, random, 5)).ToArray();
        var options = new TrainingOptions { Steps = 1, SamplesPerStep = 3, WarmupSteps = 0, Threads = 1, Device = "cpu", CheckpointEvery = 0 };
        string pretrained;
        using (var trainer = SimVlmTrainer.Start(config, options, TextTokenizer.BuildGpt2([], config.VocabSize), new InMemoryPrefixLmData(samples, [], 1)))
        {
            trainer.TrainStep();
            pretrained = trainer.SaveCheckpoint(Path.Combine(directory, "pretrained"));
        }
        using var fineTuned = SimVlmTrainer.FineTune(pretrained, new InMemoryPrefixLmData(samples, [], 1), options, dropout: 0.1, dropPath: 0.1);
        fineTuned.TrainStep();
        var state = Checkpoint.ReadState(fineTuned.SaveCheckpoint(Path.Combine(directory, "fine-tuned")));
        Assert.Equal(0.0, Checkpoint.ReadState(pretrained).Config.Dropout);
        Assert.Equal(0.1, state.Config.Dropout);
        Assert.Equal(0.1, state.Config.DropPath);
    }

    [Fact]
    public void InterpolatingImagePositionsToTheSameGridIsIdentity()
    {
        manual_seed(3);
        using var positions = randn(1, 16, 8);
        using var same = SimVlmModel.InterpolateImagePositions(positions, 4);
        Assert.Equal(positions.shape, same.shape);
        Assert.True(TestModels.Values(positions).Zip(TestModels.Values(same)).All(p => Math.Abs(p.First - p.Second) <= 1e-6));
    }

    [Fact]
    public void InterpolatingImagePositionsToALargerGridKeepsTheCornersPattern()
    {
        // One channel: a different value in each corner region of a 4x4 grid (top-left 1, top-right 2,
        // bottom-left 3, bottom-right 4), row-major as the stem flattens patches.
        var grid = new float[16];
        for (int row = 0; row < 4; row++)
            for (int column = 0; column < 4; column++)
                grid[row * 4 + column] = 1 + (column >= 2 ? 1 : 0) + (row >= 2 ? 2 : 0);
        using var positions = tensor(grid, [1, 16, 1]);
        using var larger = SimVlmModel.InterpolateImagePositions(positions, 8);
        Assert.Equal(new long[] { 1, 64, 1 }, larger.shape);
        float[] values = TestModels.Values(larger);
        float At(int row, int column) => values[row * 8 + column];
        Assert.Equal(1, At(0, 0), 3);
        Assert.Equal(2, At(0, 7), 3);
        Assert.Equal(3, At(7, 0), 3);
        Assert.Equal(4, At(7, 7), 3);
        // Each quadrant of the new grid stays nearest its corner's value (bicubic overshoots a little near the edges between them).
        Assert.InRange(At(1, 1), 0.5, 1.5);
        Assert.InRange(At(1, 6), 1.5, 2.5);
        Assert.InRange(At(6, 1), 2.5, 3.5);
        Assert.InRange(At(6, 6), 3.5, 4.5);
    }

    [Fact]
    public void AModelForLargerImagesTakesEveryWeightAndInterpolatedPositions()
    {
        using var pretrained = TestModels.NewModel(TestModels.Micro, 6);
        var larger = TestModels.Micro with { ImageSize = TestModels.Micro.ImageSize * 2 };
        using var model = new SimVlmModel(larger);
        model.CopyWeightsFrom(pretrained);
        var source = pretrained.named_parameters().ToDictionary(p => p.name, p => TestModels.Values(p.parameter));
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name == SimVlmModel.ImagePositionsName)
                Assert.Equal(new long[] { 1, larger.ImageTokens, larger.Width }, parameter.shape);
            else
                Assert.Equal(source[name], TestModels.Values(parameter));
        }
        model.eval();
        using var batch = Batch(larger);
        Assert.True(float.IsFinite(Loss(model, batch)[0]));
        Assert.Throws<ArgumentException>(() => model.CopyWeightsFrom(TestModels.NewModel(TestModels.Micro with { Width = 64 }, 1)));
    }

    [Fact]
    public void ThePresetsHaveThePapersSizes()
    {
        Assert.Equal((24, 24, 1024, 4096, 16), (SimVlmConfig.Large.EncoderLayers, SimVlmConfig.Large.DecoderLayers, SimVlmConfig.Large.Width, SimVlmConfig.Large.MlpWidth, SimVlmConfig.Large.Heads));
        Assert.Equal((32, 32, 1280, 5120, 16), (SimVlmConfig.Huge.EncoderLayers, SimVlmConfig.Huge.DecoderLayers, SimVlmConfig.Huge.Width, SimVlmConfig.Huge.MlpWidth, SimVlmConfig.Huge.Heads));
        var huge = SimVlmConfig.Huge;
        Assert.Equal(huge, SimVlmConfig.Preset("HUGE") with { StageDepths = huge.StageDepths });
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("base")]
    [InlineData("micro")]
    [InlineData("micro-patch16")]
    public void CountedParametersAreTheBuiltModulesParameters(string shape)
    {
        var config = shape switch
        {
            "micro" => TestModels.Micro,
            "micro-patch16" => TestModels.Micro with { PatchSize = 16, ImageSize = 32, StageDepths = [2, 1, 2] },
            _ => SimVlmConfig.Preset(shape),
        };
        using var model = new SimVlmModel(config);
        Assert.Equal(model.ParameterCount(), SimVlmModel.CountParameters(config));
    }

    [Fact]
    public void ParameterCountsOfTheLargerPresetsMatchAHandCount()
    {
        // Base, counted by hand. Conv stage (ResNet-50's first three stages, GroupNorm scale and shift):
        //   stem 7x7x3x64 + 128 = 9,536
        //   stage 1 (width 64): first block 4,096+128 + 36,864+128 + 16,384+512 + shortcut 16,384+512 = 75,008,
        //     two more 16,384+128 + 36,864+128 + 16,384+512 = 70,400 each                          -> 215,808
        //   stage 2 (width 128): first 32,768+256 + 147,456+256 + 65,536+1,024 + 131,072+1,024 = 379,392,
        //     three more 65,536+256 + 147,456+256 + 65,536+1,024 = 280,064 each                    -> 1,219,584
        //   stage 3 (width 256): first 131,072+512 + 589,824+512 + 262,144+2,048 + 524,288+2,048 = 1,512,448,
        //     five more 262,144+512 + 589,824+512 + 262,144+2,048 = 1,117,184 each                 -> 7,098,368
        //   1x1 to width 1024x768 + 768, image positions 196x768                                   -> 937,728
        // Embeddings: 32,000x768 tokens + 64x768 text positions = 24,625,152.
        // Encoder layer: 2 LayerNorms 3,072 + attention 4x(768x768 + 768) 2,362,368 + MLP 4,722,432 = 7,087,872.
        // Decoder layer: 3 LayerNorms 4,608 + two attentions 4,724,736 + MLP 4,722,432 = 9,451,776.
        // Final LayerNorms 3,072.
        long conv = 9_536 + 215_808 + 1_219_584 + 7_098_368 + 937_728;
        long baseCount = conv + 24_625_152 + 12 * 7_087_872L + 12 * 9_451_776L + 3_072;
        Assert.Equal(baseCount, SimVlmModel.CountParameters(SimVlmConfig.Base));
        // Large and Huge share Base's conv stage up to the 1x1 projection and the position tables.
        long sharedConv = conv - 937_728;
        long LargerCount(long width, long layers, long mlp) =>
            sharedConv + 1024 * width + width + 196 * width + 32_000 * width + 64 * width
            + layers * (4 * width + 4 * (width * width + width) + 2 * width * mlp + mlp + width)
            + layers * (6 * width + 8 * (width * width + width) + 2 * width * mlp + mlp + width)
            + 4 * width;
        Assert.Equal(LargerCount(1024, 24, 4096), SimVlmModel.CountParameters(SimVlmConfig.Large));
        Assert.Equal(LargerCount(1280, 32, 5120), SimVlmModel.CountParameters(SimVlmConfig.Huge));
        // The paper reports SimVLM-Huge at about 1.4B parameters; with a decoder as deep as the encoder it is 1.52B.
        Assert.InRange(SimVlmModel.CountParameters(SimVlmConfig.Huge), 1.3e9, 1.6e9);
    }

    [Fact]
    public void ForwardFlopsMatchAHandCount()
    {
        var tiny = SimVlmConfig.Tiny; // 64x64 images, stem width 16, one block per stage, width 256, 16 image tokens
        // Conv stage, 2 FLOPs per multiply-add, output positions times kernel weights:
        //   7x7 stem conv to 32x32: 2 x 2,352 x 1,024 = 4,816,896; max pool to 16x16
        //   stage 1 at 16x16: reduce 16x16, 3x3 16x16, expand 16x64, shortcut 16x64 -> 2 x 256 x (256 + 2,304 + 1,024 + 1,024) = 2,359,296
        //   stage 2: reduce 64x32 at 16x16 (1,048,576), then at 8x8: 3x3 32x32 (1,179,648), expand 32x128 (524,288), shortcut 64x128 (1,048,576)
        //   stage 3: reduce 128x64 at 8x8 (1,048,576), then at 4x4: 3x3 64x64 (1,179,648), expand 64x256 (524,288), shortcut 128x256 (1,048,576)
        //   1x1 to the width: 2 x 256 x 256 x 16 = 2,097,152
        double stem = 4_816_896 + 2_359_296 + 2 * (1_048_576 + 1_179_648 + 524_288 + 1_048_576) + 2_097_152;
        // Transformer, prefix text 4 and suffix 6 tokens: 20 encoder tokens, 2 FLOPs per weight per token.
        double width = 256, mlp = 1024, encoderTokens = 16 + 4, suffix = 6;
        double encoderLayer = 2 * encoderTokens * (4 * width * width + 2 * width * mlp) // Q, K, V, output; MLP
            + 2 * 2 * encoderTokens * encoderTokens * width;                              // scores and weighted sums
        double decoderLayer = 2 * suffix * (4 * width * width + 2 * width * width + 2 * width * mlp) // self-attention, cross Q and output, MLP
            + 2 * encoderTokens * 2 * width * width                                               // cross keys and values of the prefix
            + 2 * 2 * (1 + 2 + 3 + 4 + 5 + 6) * width                                             // causal self-attention: token i sees i keys
            + 2 * 2 * suffix * encoderTokens * width;                                             // cross-attention
        double output = 2 * suffix * width * tiny.VocabSize;
        double expected = stem + 2 * encoderLayer + 2 * decoderLayer + output;
        var parts = SimVlmModel.ForwardFlopsByPart(tiny, withImage: true, prefixTextTokens: 4, suffixTokens: 6);
        Assert.Equal(stem, parts.Stem);
        Assert.Equal(expected, parts.Total, 1e-6 * expected);
    }

    private static InMemoryPrefixLmData MicroData(ulong seed, int pairs = 12)
    {
        var random = new DeterministicRandom(seed);
        var samples = Enumerable.Range(0, pairs).Select(_ => TestModels.ImageTextSample(TestModels.Micro, random, random.Next(3, 9))).ToArray();
        var documents = Enumerable.Range(0, 4).Select(_ => TestModels.TextOnlySample(TestModels.Micro, random, random.Next(3, 9))).ToArray();
        return new InMemoryPrefixLmData(samples, documents, seed);
    }

    [Fact]
    public async Task ValidationLossComesEveryNStepsOnTheSameHeldOutSamplesAndLeavesTrainingAlone()
    {
        var config = TestModels.Micro with { Dropout = 0.1 }; // validation must not draw from the run's dropout stream
        var options = new TrainingOptions { Steps = 4, SamplesPerStep = 4, WarmupSteps = 1, PeakLearningRate = 1e-3, Threads = 1, Device = "cpu", CheckpointEvery = 0, ValidateEvery = 2 };
        var tokenizer = TextTokenizer.BuildGpt2([], config.VocabSize);

        using var plain = SimVlmTrainer.Start(config, options, tokenizer, MicroData(1));
        await foreach (var _ in plain.RunAsync(cancellationToken: TestContext.Current.CancellationToken)) { }

        using var validated = SimVlmTrainer.Start(config, options, tokenizer, MicroData(1));
        validated.UseValidationData(MicroData(2), 6);
        double before = validated.ValidationLoss();
        Assert.Equal(before, validated.ValidationLoss()); // the same samples and splits every time
        var steps = new List<StepMetrics>();
        await foreach (var trainingEvent in validated.RunAsync(cancellationToken: TestContext.Current.CancellationToken))
            if (trainingEvent is StepCompleted completed) steps.Add(completed.Metrics);

        Assert.Equal([null, 2, null, 4], steps.Select(m => m.ValidationLoss is null ? (int?)null : m.Step));
        Assert.All(steps.Where(m => m.ValidationLoss is not null), m => Assert.True(double.IsFinite(m.ValidationLoss!.Value) && m.ValidationLoss > 0));
        Assert.NotEqual(before, steps[^1].ValidationLoss!.Value); // the weights moved, so the held-out loss did
        var plainWeights = plain.Model.parameters().SelectMany(TestModels.Values).ToArray();
        Assert.Equal(plainWeights, validated.Model.parameters().SelectMany(TestModels.Values).ToArray());
    }

    [Fact]
    public void ResumingWithAnotherStepCountRetimesTheDecayToEndThere()
    {
        var options = new TrainingOptions { Steps = 10, SamplesPerStep = 4, WarmupSteps = 1, PeakLearningRate = 1e-3, Threads = 1, Device = "cpu", CheckpointEvery = 0 };
        string run = Path.Combine(directory, "run");
        using (var trainer = SimVlmTrainer.Start(TestModels.Micro, options, TextTokenizer.BuildGpt2([], TestModels.Micro.VocabSize), MicroData(1)))
        {
            trainer.TrainStep();
            trainer.TrainStep();
            trainer.SaveCheckpoint(run);
        }
        using var resumed = SimVlmTrainer.Resume(run, MicroData(1), options with { Steps = 20 });
        double learningRate = resumed.TrainStep().LearningRate;
        Assert.Equal(new LearningRateSchedule(1e-3, 1, 20).At(2), learningRate);
        Assert.NotEqual(new LearningRateSchedule(1e-3, 1, 10).At(2), learningRate);
    }
}
