using System.CommandLine;
using System.Globalization;
using Platform.Model;
using Platform.Model.Training;

namespace Platform.Benchmarks;

/// <summary>
/// `platform bench train`: training throughput in windows of a few steps, each against a matmul probe (fp32 on the CPU, bf16
/// on CUDA) taken next to it; the last line is mfu=, the median over the windows of achieved/probed.
/// </summary>
public static class BenchTrainCommand
{
    public static Command Create()
    {
        var preset = BenchArguments.PresetOption();
        // Thirty steps: with five, one burst of other load on a shared machine moved the figure by a third between runs.
        var steps = new Option<int>("--steps") { Description = "Measured steps (after 3 warmup steps), each between two matmul probes; the figures are medians.", DefaultValueFactory = _ => 30 };
        var prefetch = new Option<int>("--prefetch") { Description = "Steps the background loader prepares ahead (0: each step builds its batches itself).", DefaultValueFactory = _ => new TrainingOptions().PrefetchSteps };
        // 36 = 32 image-text + 4 text-only samples (8:1): twice the training default, which keeps the
        // matmuls large enough and the optimiser's fixed per-step cost under a tenth of the step on two cores.
        var batch = new Option<int>("--batch") { Description = "Samples per step.", DefaultValueFactory = _ => 36 };
        // One thread by default: a step is thousands of short parallel regions, each ending when its slowest thread does, so on
        // cores shared with other work a descheduled thread stalls the others, which a matmul's few long regions hardly
        // feel; with two threads on two loaded cores even the processor-time MFU halved between runs (0.109 against 0.209).
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch, in the steps and the matmul probes (0: its default, one per core).", DefaultValueFactory = _ => 1 };
        var device = new Option<string>("--device") { Description = "auto, cpu or cuda.", DefaultValueFactory = _ => "auto" };
        var command = new Command("train", "Measure PrefixLM training throughput and MFU against the device's measured matmul peak (fp32 on the CPU, bf16 on CUDA).");
        foreach (var option in new Option[] { preset, steps, batch, threads, device, prefetch }) command.Options.Add(option);
        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            var config = result.Preset(preset);
            var options = new TrainingOptions
            {
                SamplesPerStep = result.AtLeast(batch, 1), Threads = result.AtLeast(threads, 0), Device = result.GetValue(device)!, PrefetchSteps = result.AtLeast(prefetch, 0),
            };
            var benchmark = TrainingBenchmark.Run(config, options, measuredSteps: result.AtLeast(steps, 1));
            string Share(double part, double whole) => string.Create(CultureInfo.InvariantCulture, $"{part / whole:F3}");
            var b = benchmark;
            var f = b.FlopsByPart;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"device={b.Device} threads={b.Threads} peak_{b.PeakType}_flops={b.PeakFlopsPerSecond:E3} (best single product of all probes) median_probe_flops={b.MedianProbeFlopsPerSecond:E3} (mean rate of a probe)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"steps={b.MeasuredSteps} median_step_s={b.MedianStepSeconds:F3} mean_step_s={b.SecondsPerStep:F3} fastest_step_s={b.FastestStepSeconds:F3} flops_per_step={b.FlopsPerStep:E3} tokens/s={b.TokensPerSecond:F0}"));
            Console.WriteLine("flops_per_step = 3 x forward (backward costs twice the forward); forward per sample = stem convolutions + 2 w^2 per token per w x w projection (4 per encoder layer; 6 per decoder layer, plus cross-attention keys and values: 2 per decoder layer per encoder token) + 4 w per token per key attended, per attention + 4 w mlp per token per MLP + 2 w vocabulary per suffix token (w = width; a multiply-add counts 2)");
            Console.WriteLine($"time_share data={Share(b.DataSeconds, b.SecondsPerStep)} forward={Share(b.ForwardSeconds, b.SecondsPerStep)} backward={Share(b.BackwardSeconds, b.SecondsPerStep)} optimizer={Share(b.OptimizerSeconds, b.SecondsPerStep)}");
            Console.WriteLine($"data_share={Share(b.MedianDataShare, 1)} (median share of a step spent waiting for its batches; {(b.BackgroundLoader ? "background loader on" : "built at the step's start")})");
            Console.WriteLine($"padding_share={Share(b.PaddingShare, 1)} of the positions in attention's rectangles (attention alone computes them; norms, projections, MLPs and the output layer run on real tokens only)");
            Console.WriteLine($"stem_time_share={Share(b.StemSeconds, b.ForwardSeconds + b.BackwardSeconds)} of forward+backward (timed alone)");
            Console.WriteLine($"flops_share stem={Share(f.Stem, f.Total)} projections={Share(f.Projections, f.Total)} attention={Share(f.Attention, f.Total)} mlp={Share(f.Mlp, f.Total)} output_layer={Share(f.OutputLayer, f.Total)}");
            if (b.CpuTimeMfu is double cpuTimeMfu)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cpu_time_mfu={cpuTimeMfu:F4} (FLOPs per second of this process's processor time, step over matmul: unaffected by other load on the cores)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fastest_step_mfu={b.FastestStepMfu:F4} median_step_peak_mfu={b.MedianStepPeakMfu:F4} (the median step against the best product: moves with load)"));
            var windowMfus = b.Windows.Select(w => w.Mfu).Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"windows={b.Windows.Count} of {b.Windows[0].Steps} step(s), each against the mean of the matmul probes before and after it: mfu lowest={windowMfus[0]:F4} median={b.Mfu:F4} highest={windowMfus[^1]:F4}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mfu={benchmark.Mfu:F4}"));
            return Task.FromResult(0);
        });
        return command;
    }
}
