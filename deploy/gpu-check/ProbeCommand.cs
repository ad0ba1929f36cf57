using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Platform.Model.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.GpuCheck;

/// <summary>
/// `gpu-check probe`: whether the libtorch this process loaded can do what the model needs on a device
/// (a bf16 matmul and fused attention with a boolean mask, each compared with float32 on the CPU), one
/// line per check, before any benchmark spends time on it. Exit code 1 when a check fails.
/// </summary>
public static class ProbeCommand
{
    public static Command Create()
    {
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cuda" };
        var matmulSize = new Option<int>("--matmul-size") { Description = "Side of the square bf16 matrices timed for the peak.", DefaultValueFactory = _ => 8192 };
        var command = new Command("probe", "Print what libtorch sees and check a bf16 matmul and fused attention on the device against float32 on the CPU.");
        command.Options.Add(device);
        command.Options.Add(matmulSize);
        command.SetAction((ParseResult result, CancellationToken _) => Task.FromResult(Run(result.GetValue(device)!, result.GetValue(matmulSize))));
        return command;
    }

    private static int Run(string deviceName, int matmulSize)
    {
        string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
        Console.WriteLine($"torchsharp_libtorch={__version__} cuda_available={cuda.is_available()} cuda_devices={(cuda.is_available() ? cuda.device_count() : 0)}");
        var gpus = DeviceDetection.DetectCuda(out var problem);
        foreach (var gpu in gpus)
            Console.WriteLine(Invariant($"gpu={gpu.Id} name=\"{gpu.Name}\" memory_gib={gpu.MemoryBytes / (double)(1L << 30):F1}"));
        if (problem is not null) Console.WriteLine($"cuda_detection_problem={problem}");
        if (deviceName.StartsWith("cuda", StringComparison.Ordinal) && !cuda.is_available())
        {
            Console.Error.WriteLine("probe=FAILED: libtorch finds no CUDA device; put a CUDA libtorch's lib folder (PyTorch's torch/lib) first in LD_LIBRARY_PATH, or pass --device cpu.");
            return 1;
        }
        var device = torch.device(deviceName);
        var type = device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
        bool ok = true;
        using (var scope = NewDisposeScope())
        {
            manual_seed(1);
            // libtorch's own CPU result is the reference below, so first check it against plain C#: a libtorch
            // that binds but disagrees with the binding on a structure's layout would fail both alike.
            var x = randn(8, 16);
            var y = randn(16, 4);
            float[] xs = x.data<float>().ToArray(), ys = y.data<float>().ToArray(), products = matmul(x, y).data<float>().ToArray();
            double cpuError = 0;
            for (int i = 0; i < 8; i++)
                for (int j = 0; j < 4; j++)
                    cpuError = Math.Max(cpuError, Math.Abs(products[i * 4 + j] - Enumerable.Range(0, 16).Sum(k => (double)xs[i * 16 + k] * ys[k * 4 + j])));
            bool cpuOk = cpuError < 1e-4;
            ok &= cpuOk;
            Console.WriteLine(Invariant($"matmul device=cpu against=managed max_abs_error={cpuError:E2} {(cpuOk ? "ok" : "FAILED")}"));

            var a = randn(256, 512);
            var b = randn(512, 128);
            var onDevice = matmul(a.to(device).to(type), b.to(device).to(type)).to(ScalarType.Float32).cpu();
            double error = (onDevice - matmul(a, b)).abs().max().item<float>() / matmul(a, b).abs().max().item<float>();
            // bf16 keeps 8 bits of mantissa: a sum of 512 rounded products stays within a few percent of the largest entry.
            bool matmulOk = error < 0.05;
            ok &= matmulOk;
            Console.WriteLine(Invariant($"matmul device={device} dtype={type} max_relative_error={error:E2} {(matmulOk ? "ok" : "FAILED")}"));

            var q = randn(2, 4, 16, 32);
            var k = randn(2, 4, 16, 32);
            var v = randn(2, 4, 16, 32);
            var mask = ones(2, 1, 1, 16, dtype: ScalarType.Bool);
            mask[0, 0, 0, TensorIndex.Slice(12)] = tensor(false);
            var fused = nn.functional.scaled_dot_product_attention(q.to(device).to(type), k.to(device).to(type), v.to(device).to(type), attn_mask: mask.to(device))
                .to(ScalarType.Float32).cpu();
            var reference = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
            double attentionError = (fused - reference).abs().max().item<float>();
            bool attentionOk = attentionError < 0.05;
            ok &= attentionOk;
            Console.WriteLine(Invariant($"attention device={device} dtype={type} max_abs_error={attentionError:E2} {(attentionOk ? "ok" : "FAILED")}"));

            var (perSecond, _) = Benchmarks.TrainingBenchmark.MatmulPeak(device, matmulSize, type);
            Console.WriteLine(Invariant($"matmul_peak n={matmulSize} dtype={type} flops={perSecond:E3}"));
        }
        if (device.type == DeviceType.CUDA)
        {
            var clock = Stopwatch.StartNew();
            cuda.synchronize();
            Console.WriteLine(Invariant($"synchronize_ms={clock.Elapsed.TotalMilliseconds:F3}"));
        }
        Console.WriteLine(ok ? "probe=ok" : "probe=FAILED");
        return ok ? 0 : 1;
    }
}
