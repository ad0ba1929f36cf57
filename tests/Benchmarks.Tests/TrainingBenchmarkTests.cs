using Platform.Model;
using Platform.Model.Tests;
using Platform.Model.Training;

namespace Platform.Benchmarks.Tests;

public class TrainingBenchmarkTests
{
    [Fact]
    public void BenchmarkReportsThroughputAgainstAMeasuredPeak()
    {
        var result = TrainingBenchmark.Run(TestModels.Micro, new TrainingOptions { SamplesPerStep = 3, Threads = 1, Device = "cpu" }, warmupSteps: 1, measuredSteps: 5, matmulSize: 128, stepsPerWindow: 3);
        Assert.Equal(5, result.MeasuredSteps);
        Assert.Equal("fp32", result.PeakType);
        Assert.True(result.PeakFlopsPerSecond > 1e6, $"implausible matmul peak {result.PeakFlopsPerSecond}");
        Assert.True(result.FlopsPerStep > 0 && result.SecondsPerStep > 0 && result.TokensPerSecond > 0);
        Assert.Equal(result.FlopsPerStep / result.MedianStepSeconds / result.PeakFlopsPerSecond, result.MedianStepPeakMfu, 12);
        Assert.InRange(result.MedianStepSeconds, result.FastestStepSeconds, result.SecondsPerStep * result.MeasuredSteps);
        Assert.InRange(result.Mfu, 0, 1); // a tiny model cannot beat the device's own matmul peak
        Assert.InRange(result.FastestStepMfu, result.MedianStepPeakMfu, 1);

        // Two windows (steps 1-3, then 4-5), each against the probes on either side of it: their mean rate, at most the best product.
        Assert.Equal(new[] { 3, 2 }, result.Windows.Select(w => w.Steps));
        Assert.Equal(result.FlopsPerStep * result.MeasuredSteps, result.Windows.Sum(w => w.Flops), 3);
        Assert.All(result.Windows, w => Assert.InRange(w.ProbeFlopsPerSecond, 1e6, result.PeakFlopsPerSecond));
        Assert.Equal(result.Windows.Average(w => w.Flops / w.Seconds / w.ProbeFlopsPerSecond), result.Mfu, 12); // the median of two

        // The phases add up to the step and the parts to the FLOPs; the micro batch has images, so the stem counts.
        Assert.Equal(result.SecondsPerStep, result.DataSeconds + result.ForwardSeconds + result.BackwardSeconds + result.OptimizerSeconds, 9);
        Assert.True(result.ForwardSeconds > 0 && result.BackwardSeconds > 0 && result.OptimizerSeconds > 0);
        Assert.Equal(result.FlopsPerStep, result.FlopsByPart.Total, 3);
        Assert.True(result.CpuTimeMfu > 0, "on the CPU the processor-time ratio is measured too");
        // Random per-sample splits leave some samples' prefixes and suffixes shorter than their batch's longest.
        Assert.InRange(result.PaddingShare, 0.01, 0.99);
        Assert.True(result.StemSeconds > 0, "the stem is timed on the step's images");
        Assert.True(result.FlopsByPart.Stem > 0 && result.FlopsByPart.Attention > 0 && result.FlopsByPart.Mlp > 0 && result.FlopsByPart.OutputLayer > 0);
        Assert.False(result.BackgroundLoader);
        Assert.InRange(result.MedianDataShare, double.Epsilon, 1); // building the batches at the step's start takes some of it
    }

    [Fact]
    public void A_load_that_slows_the_steps_and_the_probes_next_to_them_alike_leaves_the_mfu_where_it_was()
    {
        // Three windows at the idle rate, then four with other load taking two thirds of the cores from steps and probes alike.
        MfuWindow[] windows =
        [
            .. Enumerable.Repeat(new MfuWindow(3, 1.0, 3e10, 1e11), 3),
            .. Enumerable.Repeat(new MfuWindow(3, 3.0, 3e10, 1e11 / 3), 4),
        ];
        var result = new TrainingBenchmarkResult("CPU", "fp32", 1, 1.2e11, 21, 2.0 / 3, 1.0 / 3, 1e10, 1000, 0, 0.2, 0.4, 0.07, new FlopsByPart(0, 0, 0, 0, 1e10),
            0.01, 0.3, 0.4, windows) { MedianStepSeconds = 1.0 };
        Assert.Equal(0.3, result.Mfu, 12);
        // The median step against the best product, the figure before the probes, reads the load as a third of the efficiency.
        Assert.Equal(1e10 / 1.0 / 1.2e11, result.MedianStepPeakMfu, 12);
    }

    [Fact]
    public void BenchmarkSaysWhetherTheBackgroundLoaderFedTheSteps()
    {
        var result = TrainingBenchmark.Run(TestModels.Micro, new TrainingOptions { SamplesPerStep = 3, Threads = 1, Device = "cpu", PrefetchSteps = 2 }, warmupSteps: 1, measuredSteps: 5, matmulSize: 128);
        Assert.True(result.BackgroundLoader);
        Assert.InRange(result.MedianDataShare, 0, 1);
        Assert.Equal(result.SecondsPerStep, result.DataSeconds + result.ForwardSeconds + result.BackwardSeconds + result.OptimizerSeconds, 9);
    }

    [Fact]
    public void BenchmarkMeasuresThePeakInTheTypeTheModelComputesIn()
    {
        var result = TrainingBenchmark.Run(TestModels.Micro, new TrainingOptions { SamplesPerStep = 2, Threads = 1, Device = "cpu", Precision = "bf16" }, warmupSteps: 0, measuredSteps: 1, matmulSize: 64);
        Assert.Equal("bf16", result.PeakType);
        Assert.True(result.PeakFlopsPerSecond > 0 && result.FlopsPerStep > 0);
    }

    [Fact]
    public void TheGpuPeakIsTimedOnProductsThatOutlastTheirLaunch()
    {
        // Launching a kernel and reading its result back costs tens of microseconds; a GPU's peak timed on
        // shorter products would be that overhead, not the GPU. A millisecond at 1e15 FLOP/s (beyond the
        // bf16 rate of any GPU the platform meets) keeps the overhead under a few percent.
        double seconds(int n) => 2.0 * n * n * n / 1e15;
        Assert.True(seconds(TrainingBenchmark.PeakMatmulSize(new TorchSharp.torch.Device(TorchSharp.DeviceType.CUDA, 0))) >= 1e-3);
        Assert.Equal(1024, TrainingBenchmark.PeakMatmulSize(TorchSharp.torch.CPU));
    }
}
