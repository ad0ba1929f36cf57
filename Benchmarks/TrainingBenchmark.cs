using System.Diagnostics;
using Platform.Model;
using Platform.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Benchmarks;

/// <summary>
/// A few consecutive measured steps and the matmul rate measured next to them: the mean rate of the probes just before and
/// just after the window. A change of load on the machine slows both, so their ratio holds where either alone does not.
/// </summary>
public sealed record MfuWindow(int Steps, double Seconds, double Flops, double ProbeFlopsPerSecond)
{
    /// <summary>The window's training FLOP/s over the matmul rate measured next to it.</summary>
    public double Mfu => Flops / Seconds / ProbeFlopsPerSecond;
}

/// <summary>
/// Result of `platform bench train`: the device's measured matmul peak and the training throughput
/// against it, with the mean step split into its phases and the FLOPs into the model's parts.
/// MFU is the median over windows (one step each by default) of each window's FLOP/s over the matmul rate probed next to it:
/// a burst of other load on a shared machine stretches both the window and its probe, and a median keeps the
/// windows a burst hits only one side of from moving the figure.
/// </summary>
public sealed record TrainingBenchmarkResult(
    string Device, string PeakType, int Threads, double PeakFlopsPerSecond, int MeasuredSteps, double SecondsPerStep, double FastestStepSeconds,
    double FlopsPerStep, double TokensPerSecond,
    double DataSeconds, double ForwardSeconds, double BackwardSeconds, double OptimizerSeconds, FlopsByPart FlopsByPart,
    double StemSeconds, double? CpuTimeMfu, double PaddingShare, IReadOnlyList<MfuWindow> Windows)
{
    /// <summary>
    /// Share of the positions in attention's rectangles that are padding (per-sample PrefixLM splits
    /// pad every sample to its batch's longest prefix and longest suffix). Only attention pays for it:
    /// the position-wise layers run on the real tokens, packed.
    /// </summary>
    public double PaddingShare { get; init; } = PaddingShare;

    /// <summary>Share of forward and backward time that the convolution stem takes (timed alone on the step's images).</summary>
    public double StemTimeShare => StemSeconds / (ForwardSeconds + BackwardSeconds);

    /// <summary>The median measured step, in seconds.</summary>
    public double MedianStepSeconds { get; init; } = SecondsPerStep;

    /// <summary>The median of each step's share spent waiting for its data (with the background loader: for the prepared batch).</summary>
    public double MedianDataShare { get; init; }

    /// <summary>Whether the steps' batches came from the background loader (<see cref="TrainingOptions.PrefetchSteps"/>).</summary>
    public bool BackgroundLoader { get; init; }

    /// <summary>Model FLOPs utilisation: the median over <see cref="Windows"/> of each window's FLOP/s over the matmul rate probed next to it.</summary>
    public double Mfu => BenchmarkStatistics.Median(Windows.Select(w => w.Mfu));

    /// <summary>The median step's FLOP/s over the best matmul seen in any probe: the figure before interleaved probes, which load on the machine moves.</summary>
    public double MedianStepPeakMfu => FlopsPerStep / MedianStepSeconds / PeakFlopsPerSecond;

    /// <summary>The median of the probes' mean matmul rates.</summary>
    public double MedianProbeFlopsPerSecond => BenchmarkStatistics.Median(Windows.Select(w => w.ProbeFlopsPerSecond));

    /// <summary>
    /// On the CPU: training FLOPs per second of processor time this process used, over the same for
    /// the matmul probes. Wall-clock MFU falls when other processes share the cores; this ratio does
    /// not, so it shows how efficiently the step uses the cores it gets. Null on CUDA.
    /// </summary>
    public double? CpuTimeMfu { get; init; } = CpuTimeMfu;

    /// <summary>The same over the fastest measured step and the best matmul: what the run reaches when nothing else competes for the cores.</summary>
    public double FastestStepMfu => FlopsPerStep / FastestStepSeconds / PeakFlopsPerSecond;
}

/// <summary>
/// Measures training speed as a ratio against a baseline taken in the same run: real training steps of the chosen preset
/// on synthetic samples (random pixels and token ids, so no data set is needed), after warmup steps that are not counted,
/// in windows (one step each by default) with a short matrix-multiply probe before each window and after the last, in the type the
/// model computes in (fp32 on the CPU) and on the same threads. On a machine whose other load comes and goes, a peak
/// measured once before the steps (or the best of a few) is taken at another moment than the steps and moved the figure
/// several-fold between runs; a probe next to each window sees the load the window saw.
/// </summary>
public static class TrainingBenchmark
{
    /// <param name="matmulSize">Side of the square matrices the probes time; null: <see cref="PeakMatmulSize"/> of the trainer's device.</param>
    /// <param name="stepsPerWindow">Measured steps between two matmul probes.</param>
    /// <param name="productsPerProbe">Timed products of one probe (after one untimed product that brings the matrices back into the caches).</param>
    public static TrainingBenchmarkResult Run(SimVlmConfig config, TrainingOptions options, int warmupSteps = 3, int measuredSteps = 30, int? matmulSize = null,
        int stepsPerWindow = 1, int productsPerProbe = 4)
    {
        if (measuredSteps < 1) throw new ArgumentOutOfRangeException(nameof(measuredSteps), "At least one step must be measured.");
        if (stepsPerWindow < 1 || productsPerProbe < 1) throw new ArgumentOutOfRangeException(nameof(stepsPerWindow), "A window needs a step and a probe a product.");
        // A read of the loss every step, so that each step's time holds its own device work (on CUDA, steps between reads
        // only queue theirs); on the CPU, which computes as it goes, a read costs nothing.
        var trainerOptions = options with { Steps = warmupSteps + measuredSteps, CheckpointDirectory = null, WarmupSteps = 1, MetricsEvery = 1 };
        var tokenizer = TextTokenizer.BuildGpt2([], SpecialTokens.Count + 1); // vocabulary ids are synthetic; the tokenizer is only carried along
        var data = SyntheticData(config, options.Seed, imageText: 64, textOnly: 8);

        using var trainer = SimVlmTrainer.Start(config, trainerOptions, tokenizer, data);
        int peakSize = matmulSize ?? PeakMatmulSize(trainer.Device);
        using var probe = new MatmulProbe(trainer.Device, peakSize, trainer.ComputeType);
        for (int i = 0; i < warmupSteps; i++) trainer.TrainStep();

        var probes = new List<MatmulTiming> { probe.Time(productsPerProbe) };
        var metrics = new List<StepMetrics>();
        var windows = new List<MfuWindow>();
        double stepsCpuSeconds = 0;
        while (metrics.Count < measuredSteps)
        {
            int steps = Math.Min(stepsPerWindow, measuredSteps - metrics.Count);
            var cpuTime = ProcessorTime();
            var clock = Stopwatch.StartNew();
            var window = Enumerable.Range(0, steps).Select(_ => trainer.TrainStep()).ToArray();
            double seconds = clock.Elapsed.TotalSeconds;
            stepsCpuSeconds += (ProcessorTime() - cpuTime).TotalSeconds;
            probes.Add(probe.Time(productsPerProbe));
            windows.Add(new MfuWindow(steps, seconds, window.Sum(m => m.Flops), (probes[^2].MeanPerSecond + probes[^1].MeanPerSecond) / 2));
            metrics.AddRange(window);
        }
        double peak = probes.Max(p => p.BestPerSecond);
        double probeCpuSecondRate = probes.Sum(p => p.Flops) / probes.Sum(p => p.CpuSeconds);
        double totalSeconds = metrics.Sum(m => m.StepSeconds);
        return new TrainingBenchmarkResult(
            trainer.Device.type.ToString(), trainer.ComputeType == ScalarType.Float32 ? "fp32" : "bf16", get_num_threads(), peak, measuredSteps, totalSeconds / measuredSteps, metrics.Min(m => m.StepSeconds),
            metrics.Average(m => m.Flops), metrics.Sum(m => m.ModelTokens) / totalSeconds,
            metrics.Average(m => m.DataSeconds), metrics.Average(m => m.ForwardSeconds), metrics.Average(m => m.BackwardSeconds), metrics.Average(m => m.OptimizerSeconds),
            metrics.Select(m => m.FlopsByPart).Aggregate((a, b) => a + b) * (1.0 / measuredSteps),
            StemSeconds(config, trainer.Device, metrics[0].ImageTextSamples, measuredSteps),
            trainer.Device.type == DeviceType.CPU ? metrics.Sum(m => m.Flops) / stepsCpuSeconds / probeCpuSecondRate : null,
            1 - (double)metrics.Sum(m => m.ModelTokens) / metrics.Sum(m => m.PaddedTokens),
            windows)
        {
            MedianStepSeconds = BenchmarkStatistics.Median(metrics.Select(m => m.StepSeconds)),
            MedianDataShare = BenchmarkStatistics.Median(metrics.Select(m => m.DataSeconds / m.StepSeconds)),
            BackgroundLoader = trainerOptions.PrefetchSteps > 0,
        };
    }

    /// <summary>
    /// The matrix side the peak is timed on. 1024 keeps a CPU run short; a GPU does a 1024 product in
    /// microseconds (an H200 in about 3), less than launching it and waiting for its result costs, so
    /// its peak would come out a fraction of the real one and MFU inflated: 8192 takes about a
    /// millisecond at the bf16 rate of the fastest GPUs.
    /// </summary>
    public static int PeakMatmulSize(Device device) => device.type == DeviceType.CUDA ? 8192 : 1024;

    /// <summary>Random pixels and full-length random token ids: every sample as long as the model allows, so no data set is needed.</summary>
    internal static InMemoryPrefixLmData SyntheticData(SimVlmConfig config, ulong seed, int imageText, int textOnly)
    {
        var random = new DeterministicRandom(seed);
        PrefixLmSample Sample(bool image) => new(
            image ? Enumerable.Range(0, 3 * config.ImageSize * config.ImageSize).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray() : null,
            Enumerable.Range(0, config.MaxTextLength - 1).Select(_ => random.Next(SpecialTokens.Count, config.VocabSize)).Append(SpecialTokens.Eos).ToArray());
        return new InMemoryPrefixLmData(
            Enumerable.Range(0, imageText).Select(_ => Sample(true)).ToArray(), Enumerable.Range(0, textOnly).Select(_ => Sample(false)).ToArray(), seed);
    }

    internal static TimeSpan ProcessorTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>
    /// Mean seconds of the convolution stem's forward and backward pass over <paramref name="images"/>
    /// images, timed alone: the stem's convolutions and group norms work on few channels, so its share
    /// of the time says how far its FLOP share understates it.
    /// </summary>
    private static double StemSeconds(SimVlmConfig config, Device device, int images, int repeats)
    {
        if (images == 0) return 0;
        var floatType = device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
        // Draws from libtorch's default generator take its lock, so that they cannot land in a trainer's stream running in this process.
        ConvStem NewStem() { using var draws = TorchRandomStream.EnterDefault(); return new ConvStem(config); }
        using var stem = NewStem();
        stem.to(device).to(floatType);
        double total = 0;
        for (int i = -1; i < repeats; i++) // the first pass warms up and is not counted
        {
            using var scope = NewDisposeScope();
            Tensor pixels;
            using (TorchRandomStream.EnterDefault()) pixels = randn(images, 3, config.ImageSize, config.ImageSize, dtype: floatType, device: device);
            var clock = Stopwatch.StartNew();
            stem.call(pixels).sum().backward();
            stem.zero_grad();
            if (i >= 0) total += clock.Elapsed.TotalSeconds;
        }
        return total / repeats;
    }

    /// <summary>
    /// Best fp32 FLOP/s over repeated n x n matrix products on the device, and their FLOPs per
    /// second of this process's processor time (meaningful on the CPU only).
    /// </summary>
    public static (double PerSecond, double PerCpuSecond) MatmulPeak(Device device, int n, ScalarType type = ScalarType.Float32, int repeats = 10)
    {
        using var probe = new MatmulProbe(device, n, type);
        var timing = probe.Time(repeats);
        return (timing.BestPerSecond, timing.Flops / timing.CpuSeconds);
    }
}

/// <summary>One matmul probe: its best single product's FLOP/s, its mean FLOP/s over all its products, and what it cost.</summary>
internal sealed record MatmulTiming(double BestPerSecond, double MeanPerSecond, double Flops, double CpuSeconds);

/// <summary>Two random n x n matrices kept on the device, whose product is timed again and again.</summary>
internal sealed class MatmulProbe : IDisposable
{
    private readonly Tensor a, b;
    private readonly int n;

    public MatmulProbe(Device device, int n, ScalarType type)
    {
        this.n = n;
        using var draws = TorchRandomStream.EnterDefault();
        a = randn(n, n, dtype: type, device: device).DetachFromDisposeScope();
        b = randn(n, n, dtype: type, device: device).DetachFromDisposeScope();
    }

    /// <summary>One untimed product (kernels, caches), then <paramref name="products"/> timed ones, each waited for.</summary>
    public MatmulTiming Time(int products)
    {
        using var scope = NewDisposeScope();
        Product();
        var cpuTime = TrainingBenchmark.ProcessorTime();
        var clock = Stopwatch.StartNew();
        double best = double.MaxValue;
        for (int i = 0; i < products; i++)
        {
            var started = clock.Elapsed.TotalSeconds;
            Product();
            best = Math.Min(best, clock.Elapsed.TotalSeconds - started);
        }
        double flops = 2.0 * n * n * n;
        return new MatmulTiming(flops / best, flops * products / clock.Elapsed.TotalSeconds, flops * products, (TrainingBenchmark.ProcessorTime() - cpuTime).TotalSeconds);
    }

    private void Product()
    {
        using var product = matmul(a, b);
        product[0, 0].to(ScalarType.Float32).item<float>(); // waits for the device
    }

    public void Dispose()
    {
        a.Dispose();
        b.Dispose();
    }
}
