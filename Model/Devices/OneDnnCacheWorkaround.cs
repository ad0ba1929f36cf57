using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Platform.Model.Devices;

/// <summary>
/// oneDNN (libtorch's CPU convolutions) sizes its brgemm convolution blocks by the CPU's cache sizes, which it reads
/// with cpuid. Some virtual machines report no cache sizes (Linux then lists no <c>/sys/devices/system/cpu/cpu0/cache</c>),
/// and the backward pass of a strided convolution divides by the zero L2 size: the process dies with SIGFPE
/// (<c>brg_blocking_t::est_eff_1x1</c>), seen here with the base preset's conv stage. On such a machine oneDNN is held to
/// its AVX kernels, which do not use that heuristic, through its own <c>ONEDNN_MAX_CPU_ISA</c> setting; a value the
/// person set is left alone. Only convolutions are affected: matmuls do not go through oneDNN on x86.
/// </summary>
public static class OneDnnCacheWorkaround
{
    public const string Variable = "ONEDNN_MAX_CPU_ISA";
    public const string SafeIsa = "AVX";

    private static readonly Lazy<string?> Applied = new(Apply);

    /// <summary>
    /// oneDNN reads its ISA limit once, at the process's first convolution, so a limit set later (when the first model
    /// is built) comes too late where anything convolved before. Loading this assembly sets it: every host and test
    /// that trains touches it first. A process that convolves through TorchSharp without touching it calls
    /// <see cref="EnsureApplied"/> itself before.
    /// </summary>
#pragma warning disable CA2255 // the library's own consumers are the hosts and tests of this repository
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void ApplyOnLoad() => EnsureApplied();

    /// <summary>What was set (null when nothing was); idempotent. Must run before libtorch's first convolution.</summary>
    public static string? EnsureApplied() => Applied.Value;

    /// <summary>Whether this machine hides its cache sizes, as the kernel sees them.</summary>
    public static bool CacheSizesUnknown(string cpuFolder = "/sys/devices/system/cpu/cpu0") =>
        Directory.Exists(cpuFolder) && !File.Exists(Path.Combine(cpuFolder, "cache", "index2", "size"));

    private static string? Apply()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } || !CacheSizesUnknown()) return null;
        // oneDNN reads the C environment; .NET's own copy of it is not what getenv sees.
        if (setenv(Variable, SafeIsa, overwrite: 0) != 0) return null;
        Environment.SetEnvironmentVariable(Variable, SafeIsa);
        return $"{Variable}={SafeIsa}";
    }

    [DllImport("libc", EntryPoint = "setenv", SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
