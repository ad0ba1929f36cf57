// libtorch's thread count is process-wide (trainers set it) and several tests compare results bit for
// bit (causal masking, resume); running test classes one at a time keeps every computation's
// thread layout the same. libtorch already uses every core within a test.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Platform.Model.Tests
{
    internal static class TestAssemblyStart
    {
        // Some tests convolve through TorchSharp alone, before any type of Platform.Model is touched; the limit must
        // be in place before the first of them, whichever runs first (a later base-stage backward died with SIGFPE).
#pragma warning disable CA2255
        [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
        internal static void LimitOneDnnBeforeAnyConvolution() => Platform.Model.Devices.OneDnnCacheWorkaround.EnsureApplied();
    }
}
