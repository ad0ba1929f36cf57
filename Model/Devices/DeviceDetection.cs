using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Platform.Model.Devices;

/// <summary>What this machine can train on: the CUDA devices libtorch can use, and a description of its CPU.</summary>
public static class DeviceDetection
{
    /// <summary>
    /// The CUDA devices libtorch can use, numbered as libtorch numbers them. With the CPU TorchSharp
    /// bundle there are none, even on a machine with GPUs, because nothing here could train on them.
    /// </summary>
    /// <param name="problem">Why detection found nothing when libtorch itself could not be loaded.</param>
    public static IReadOnlyList<TrainingDevice> DetectCuda(out string? problem)
    {
        problem = null;
        int count;
        try
        {
            count = cuda.is_available() ? cuda.device_count() : 0;
        }
        catch (Exception e) when (e is DllNotFoundException or NotSupportedException or TypeInitializationException or EntryPointNotFoundException)
        {
            problem = $"libtorch could not be loaded: {e.Message}";
            return [];
        }
        return Enumerable.Range(0, count).Select(index =>
            CudaDriver.TryDescribe(index, out var name, out var memory)
                ? new TrainingDevice(DeviceKind.Cuda, index, name, memory)
                : new TrainingDevice(DeviceKind.Cuda, index, $"CUDA device {index}", 0)).ToList();
    }

    /// <summary>CPU slot <paramref name="index"/>: the processor's model name and the memory this process may use (a container's limit, if any).</summary>
    public static TrainingDevice CpuSlot(int index) =>
        new(DeviceKind.Cpu, index, ProcessorName(), GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);

    private static string ProcessorName()
    {
        const string cpuInfo = "/proc/cpuinfo";
        try
        {
            if (File.Exists(cpuInfo))
            {
                var model = File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                if (model?.Split(':', 2) is [_, var name] && name.Trim().Length > 0)
                    return $"{name.Trim()} ({Environment.ProcessorCount} cores)";
            }
        }
        catch (IOException)
        {
        }
        return $"{RuntimeInformation.ProcessArchitecture} CPU ({Environment.ProcessorCount} cores)";
    }

    /// <summary>
    /// TorchSharp reports only how many CUDA devices there are; their names and memory come from the
    /// CUDA driver API, which numbers devices the way libtorch does (both honour CUDA_VISIBLE_DEVICES
    /// and CUDA_DEVICE_ORDER), unlike NVML.
    /// </summary>
    internal static class CudaDriver
    {
        // The driver's soname: the unversioned libcuda.so comes only with development packages.
        // Elsewhere (Windows: nvcuda.dll) the load fails and devices keep a generic name.
        private const string Library = "libcuda.so.1";

        public static bool TryDescribe(int ordinal, out string name, out long totalMemory)
        {
            name = "";
            totalMemory = 0;
            try
            {
                if (cuInit(0) != 0 || cuDeviceGet(out var device, ordinal) != 0) return false;
                var buffer = new byte[256];
                if (cuDeviceGetName(buffer, buffer.Length, device) != 0) return false;
                if (cuDeviceTotalMem_v2(out var bytes, device) != 0) return false;
                name = System.Text.Encoding.ASCII.GetString(buffer, 0, Math.Max(0, Array.IndexOf(buffer, (byte)0)));
                totalMemory = (long)bytes;
                return true;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return false;
            }
        }

        [DllImport(Library)] private static extern int cuInit(uint flags);
        [DllImport(Library)] private static extern int cuDeviceGet(out int device, int ordinal);
        [DllImport(Library)] private static extern int cuDeviceGetName(byte[] name, int length, int device);
        [DllImport(Library)] private static extern int cuDeviceTotalMem_v2(out nuint bytes, int device);
    }
}
