using System.Diagnostics;
using Platform.Model.Training;
using TorchSharp;

namespace Platform.Model.Tests;

/// <summary>Training must not leak: neither tensor objects nor the native memory behind them.</summary>
public sealed class TrainingMemoryTests
{
    /// <summary>
    /// Far smaller than <see cref="TestModels.Micro"/> (one image token, width 16, one layer each
    /// side, six-token texts) so that a thousand steps take seconds on two shared cores; the step's
    /// code path is the same as for any preset.
    /// </summary>
    private static readonly SimVlmConfig Minute = TestModels.Micro with
    {
        ImageSize = 8,
        PatchSize = 8,
        Width = 16,
        EncoderLayers = 1,
        DecoderLayers = 1,
        Heads = 2,
        MlpWidth = 32,
        VocabSize = 24,
        MaxTextLength = 6,
    };

    private const int Steps = 1000;
    private const int FirstSample = 100; // the optimiser's moments and libtorch's caches exist by then
    private const int SampleEvery = 100;

    /// <summary>
    /// Live tensors are counted exactly by TorchSharp per thread (created minus disposed, inside
    /// scopes or not), so one tensor kept per step shows up as 900 more between step 100 and step
    /// 1,000. Resident memory catches native allocations that outlive their tensor objects; its
    /// bound allows for allocator noise but not for a leak that grows with the step count.
    /// </summary>
    [Fact]
    public void LiveTensorsAndResidentMemoryStayFlatOverAThousandSteps()
    {
        var random = new DeterministicRandom(5);
        var pairs = Enumerable.Range(0, 8).Select(_ => TestModels.ImageTextSample(Minute, random, 1 + random.Next(2, Minute.MaxTextLength))).ToArray();
        var documents = Enumerable.Range(0, 4).Select(_ => TestModels.TextOnlySample(Minute, random, 1 + random.Next(2, Minute.MaxTextLength))).ToArray();
        // Without the background loader: the statistics count per thread, and batches the loader's thread builds would count
        // as created there and disposed here, a step's tensors short on this thread every step.
        var options = new TrainingOptions { Steps = Steps, SamplesPerStep = 3, ImageTextRatio = 2, TextOnlyRatio = 1, WarmupSteps = 10, Threads = 1, Device = "cpu", PrefetchSteps = 0 };
        var tokenizer = TextTokenizer.BuildGpt2([], SpecialTokens.Count + 1); // ids are synthetic; the tokenizer is only carried along

        // TrainStep runs here on the test's thread, the one thread whose scopes the statistics count.
        using var trainer = SimVlmTrainer.Start(Minute, options, tokenizer, new InMemoryPrefixLmData(pairs, documents, seed: 5));
        var liveTensors = new List<long>();
        var residentBytes = new List<long>();
        for (int step = 1; step <= Steps; step++)
        {
            var metrics = trainer.TrainStep();
            Assert.True(double.IsFinite(metrics.Loss), $"step {step}: loss {metrics.Loss}");
            if (step >= FirstSample && step % SampleEvery == 0)
            {
                liveTensors.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
                residentBytes.Add(ResidentBytesAfterCollection());
            }
        }

        Assert.Equal(Steps, trainer.Step);
        Assert.All(liveTensors, count => Assert.Equal(liveTensors[0], count));
        // From step 300, once the allocator's pools have grown to the run's working set (a CI run measured 257 MiB at step 100
        // and 268-273 from step 200 on), to the least of the last three samples: other tests in this process allocate at the
        // same time, and a leak grows with every step, so it shows in all three.
        long growth = residentBytes[^3..].Min() - residentBytes[2];
        Assert.True(growth < 16L << 20, $"resident memory grew by {growth >> 10} KiB between step {FirstSample + 2 * SampleEvery} and the last samples: {string.Join(", ", residentBytes.Select(b => b >> 20))} MiB");
    }

    /// <summary>The process's resident set after the managed heap has run its finalisers, which free unreferenced native tensors.</summary>
    private static long ResidentBytesAfterCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}
