using System.Diagnostics;
using Platform.Model;
using Platform.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Benchmarks;

/// <summary>
/// Result of `platform bench train`: the device's measured matmul peak and the training throughput
/// against it, with the mean step split into its phases and the FLOPs into the model's parts.
/// MFU is taken over the median step, as a burst of other load on a shared machine stretches a few
/// steps by a lot and would move a mean from run to run.
/// </summary>
public sealed record TrainingBenchmarkResult(
    string Device, string PeakType, int Threads, double PeakFlopsPerSecond, int MeasuredSteps, double SecondsPerStep, double FastestStepSeconds,
    double FlopsPerStep, double TokensPerSecond,
    double DataSeconds, double ForwardSeconds, double BackwardSeconds, double OptimizerSeconds, FlopsByPart FlopsByPart,
    double StemSeconds, double? CpuTimeMfu, double PaddingShare)
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

    /// <summary>Model FLOPs utilisation: achieved training FLOP/s (over the median step) over the measured matmul peak.</summary>
    public double Mfu => FlopsPerStep / MedianStepSeconds / PeakFlopsPerSecond;

    /// <summary>
    /// On the CPU: training FLOPs per second of processor time this process used, over the same for
    /// the matmul peak. Wall-clock MFU falls when other processes share the cores; this ratio does
    /// not, so it shows how efficiently the step uses the cores it gets. Null on CUDA.
    /// </summary>
    public double? CpuTimeMfu { get; init; } = CpuTimeMfu;

    /// <summary>The same over the fastest measured step: what the run reaches when nothing else competes for the cores.</summary>
    public double FastestStepMfu => FlopsPerStep / FastestStepSeconds / PeakFlopsPerSecond;
}

/// <summary>
/// Measures training speed as a ratio against a baseline taken in the same run: first the
/// matrix-multiply peak of the device in the type the model computes in (fp32 on the CPU; the best
/// of several large square products), then real training steps of the chosen preset on synthetic
/// samples (random pixels and token ids, so no data set is needed), after warmup steps that are not
/// counted. The peak is the best of several matmul runs, before and after the steps, so that a moment
/// of contention during one of them does not set it.
/// </summary>
public static class TrainingBenchmark
{
    /// <param name="matmulSize">Side of the square matrices the peak is timed on; null: <see cref="PeakMatmulSize"/> of the trainer's device.</param>
    public static TrainingBenchmarkResult Run(SimVlmConfig config, TrainingOptions options, int warmupSteps = 3, int measuredSteps = 30, int? matmulSize = null, int peakRuns = 3)
    {
        if (peakRuns < 1) throw new ArgumentOutOfRangeException(nameof(peakRuns), "The peak needs at least one matmul run.");
        // A read of the loss every step, so that each step's time holds its own device work (on CUDA, steps between reads
        // only queue theirs); on the CPU, which computes as it goes, a read costs nothing.
        var trainerOptions = options with { Steps = warmupSteps + measuredSteps, CheckpointDirectory = null, WarmupSteps = 1, MetricsEvery = 1 };
        var tokenizer = TextTokenizer.BuildGpt2([], SpecialTokens.Count + 1); // vocabulary ids are synthetic; the tokenizer is only carried along
        var data = SyntheticData(config, options.Seed, imageText: 64, textOnly: 8);

        using var trainer = SimVlmTrainer.Start(config, trainerOptions, tokenizer, data);
        int peakSize = matmulSize ?? PeakMatmulSize(trainer.Device);
        // The peak in the type the model computes in: float32 on the CPU, bfloat16 on CUDA by default.
        var peaks = new List<(double PerSecond, double PerCpuSecond)>();
        int runsBefore = (peakRuns + 1) / 2;
        for (int i = 0; i < runsBefore; i++) peaks.Add(MatmulPeak(trainer.Device, peakSize, trainer.ComputeType));
        for (int i = 0; i < warmupSteps; i++) trainer.TrainStep();
        var cpuTime = ProcessorTime();
        var metrics = Enumerable.Range(0, measuredSteps).Select(_ => trainer.TrainStep()).ToArray();
        double stepsCpuSeconds = (ProcessorTime() - cpuTime).TotalSeconds;
        for (int i = runsBefore; i < peakRuns; i++) peaks.Add(MatmulPeak(trainer.Device, peakSize, trainer.ComputeType));
        double peak = peaks.Max(p => p.PerSecond), peakPerCpuSecond = peaks.Max(p => p.PerCpuSecond);
        double seconds = metrics.Sum(m => m.StepSeconds);
        return new TrainingBenchmarkResult(
            trainer.Device.type.ToString(), trainer.ComputeType == ScalarType.Float32 ? "fp32" : "bf16", get_num_threads(), peak, measuredSteps, seconds / measuredSteps, metrics.Min(m => m.StepSeconds),
            metrics.Average(m => m.Flops), metrics.Sum(m => m.ModelTokens) / seconds,
            metrics.Average(m => m.DataSeconds), metrics.Average(m => m.ForwardSeconds), metrics.Average(m => m.BackwardSeconds), metrics.Average(m => m.OptimizerSeconds),
            metrics.Select(m => m.FlopsByPart).Aggregate((a, b) => a + b) * (1.0 / measuredSteps),
            StemSeconds(config, trainer.Device, metrics[0].ImageTextSamples, measuredSteps),
            trainer.Device.type == DeviceType.CPU ? metrics.Sum(m => m.Flops) / stepsCpuSeconds / peakPerCpuSecond : null,
            1 - (double)metrics.Sum(m => m.ModelTokens) / metrics.Sum(m => m.PaddedTokens))
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

    private static TimeSpan ProcessorTime()
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
        using var stem = new ConvStem(config);
        stem.to(device).to(floatType);
        double total = 0;
        for (int i = -1; i < repeats; i++) // the first pass warms up and is not counted
        {
            using var scope = NewDisposeScope();
            var pixels = randn(images, 3, config.ImageSize, config.ImageSize, dtype: floatType, device: device);
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
        using var scope = NewDisposeScope();
        var a = randn(n, n, dtype: type, device: device);
        var b = randn(n, n, dtype: type, device: device);
        matmul(a, b).sum().to(ScalarType.Float32).item<float>(); // warm up kernels and caches
        double best = double.MaxValue;
        var cpuTime = ProcessorTime();
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            using var product = matmul(a, b);
            product[0, 0].to(ScalarType.Float32).item<float>(); // waits for the device
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        double flops = 2.0 * n * n * n;
        return (flops / best, flops * repeats / (ProcessorTime() - cpuTime).TotalSeconds);
    }
}
