using System.Runtime.InteropServices;
using TorchSharp;

namespace Platform.Model.Devices;

/// <summary>
/// Turns libtorch's NNPACK convolutions off for the process, as <c>torch.backends.nnpack.set_flags(False)</c> does in Python.
/// libtorch asks NNPACK about every CPU convolution oneDNN does not take (one thread, a batch under 16, a 1x1 kernel: the conv
/// stage's projection to the width), and where NNPACK does not support the CPU it logs
/// <c>Could not initialize NNPACK! Reason: Unsupported hardware.</c> on stderr each time, dozens of lines per step. Where it is
/// supported it is only used for batches of 16 and more, which libtorch gives oneDNN before it asks NNPACK, so turning it off
/// changes no kernel that runs here.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 binds no NNPACK switch (none of its <c>THSBackend_*</c> exports is one), so the switch is libtorch's own C++
/// API, <c>at::globalContext().setUserEnabledNNPACK(false)</c>, called through its exported Itanium-mangled names: those are
/// libtorch's on Linux and macOS. Elsewhere (Windows' MSVC names) or where the library lacks them, nothing is changed and the
/// warning stays, which is all it costs.
/// </remarks>
public static class NnpackSwitch
{
    private const string Library = "libtorch_cpu";

    private static readonly Lazy<bool> Off = new(TurnOff);

    /// <summary>Whether NNPACK is now off for the process; idempotent, and never throws.</summary>
    public static bool EnsureOff() => Off.Value;

    private static bool TurnOff()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return false;
        try
        {
            // TorchSharp loads libtorch first, so the switch is set in the library its convolutions run in.
            torch.InitializeDeviceType(DeviceType.CPU);
            var context = GlobalContext();
            SetUserEnabledNnpack(context, false);
            return !UserEnabledNnpack(context);
        }
        catch (Exception error) when (error is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return false;
        }
    }

    [DllImport(Library, EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport(Library, EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport(Library, EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledNnpack(IntPtr context);
}
