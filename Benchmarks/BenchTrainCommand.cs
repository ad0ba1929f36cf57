using System.CommandLine;
using System.Globalization;
using Platform.Model;
using Platform.Model.Training;

namespace Platform.Benchmarks;

/// <summary>
/// `platform bench train`: matmul peak (fp32 on the CPU, bf16 on CUDA, the best of several runs), then training throughput
/// over the median of many steps; the last line is mfu=achieved/peak.
/// </summary>
public static class BenchTrainCommand
{
    public static Command Create()
    {
        var preset = BenchArguments.PresetOption();
        // Thirty steps: with five, one burst of other load on a shared machine moved the figure by a third between runs.
        var steps = new Option<int>("--steps") { Description = "Measured steps (after 3 warmup steps); the figures are over their median.", DefaultValueFactory = _ => 30 };
        var prefetch = new Option<int>("--prefetch") { Description = "Steps the background loader prepares ahead (0: each step builds its batches itself).", DefaultValueFactory = _ => new TrainingOptions().PrefetchSteps };
        // 36 = 32 image-text + 4 text-only samples (8:1): twice the training default, which keeps the
        // matmuls large enough and the optimiser's fixed per-step cost under a tenth of the step on two cores.
        var batch = new Option<int>("--batch") { Description = "Samples per step.", DefaultValueFactory = _ => 36 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch (0: its default)." };
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
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"device={b.Device} threads={b.Threads} peak_{b.PeakType}_flops={b.PeakFlopsPerSecond:E3}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"steps={b.MeasuredSteps} median_step_s={b.MedianStepSeconds:F3} mean_step_s={b.SecondsPerStep:F3} fastest_step_s={b.FastestStepSeconds:F3} flops_per_step={b.FlopsPerStep:E3} tokens/s={b.TokensPerSecond:F0}"));
            Console.WriteLine("flops_per_step = 3 x forward (backward costs twice the forward); forward per sample = stem convolutions + 2 w^2 per token per w x w projection (4 per encoder layer; 6 per decoder layer, plus cross-attention keys and values: 2 per decoder layer per encoder token) + 4 w per token per key attended, per attention + 4 w mlp per token per MLP + 2 w vocabulary per suffix token (w = width; a multiply-add counts 2)");
            Console.WriteLine($"time_share data={Share(b.DataSeconds, b.SecondsPerStep)} forward={Share(b.ForwardSeconds, b.SecondsPerStep)} backward={Share(b.BackwardSeconds, b.SecondsPerStep)} optimizer={Share(b.OptimizerSeconds, b.SecondsPerStep)}");
            Console.WriteLine($"data_share={Share(b.MedianDataShare, 1)} (median share of a step spent waiting for its batches; {(b.BackgroundLoader ? "background loader on" : "built at the step's start")})");
            Console.WriteLine($"padding_share={Share(b.PaddingShare, 1)} of the positions in attention's rectangles (attention alone computes them; norms, projections, MLPs and the output layer run on real tokens only)");
            Console.WriteLine($"stem_time_share={Share(b.StemSeconds, b.ForwardSeconds + b.BackwardSeconds)} of forward+backward (timed alone)");
            Console.WriteLine($"flops_share stem={Share(f.Stem, f.Total)} projections={Share(f.Projections, f.Total)} attention={Share(f.Attention, f.Total)} mlp={Share(f.Mlp, f.Total)} output_layer={Share(f.OutputLayer, f.Total)}");
            if (b.CpuTimeMfu is double cpuTimeMfu)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cpu_time_mfu={cpuTimeMfu:F4} (FLOPs per second of this process's processor time, step over matmul: unaffected by other load on the cores)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fastest_step_mfu={b.FastestStepMfu:F4}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mfu={benchmark.Mfu:F4}"));
            return Task.FromResult(0);
        });
        return command;
    }
}
