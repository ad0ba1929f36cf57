namespace Platform.Model.Devices;

public enum DeviceKind { Cpu, Cuda }

/// <summary>
/// A device a silo offers for training: a CUDA GPU, or a CPU slot (a machine may offer several CPU
/// slots so that tests and CPU-only machines have devices to schedule).
/// </summary>
/// <param name="Index">The CUDA ordinal as libtorch numbers it; for CPU slots, the slot's number on this machine.</param>
/// <param name="MemoryBytes">The GPU's total memory; for a CPU slot, the machine's memory (shared by its slots).</param>
public sealed record TrainingDevice(DeviceKind Kind, int Index, string Name, long MemoryBytes)
{
    /// <summary>`cpu:0`, `cuda:1`: unique on its silo, and the form `Training:Devices` takes.</summary>
    public string Id => $"{KindName(Kind)}:{Index}";

    /// <summary>What to pass to libtorch: CPU slots all run on the one CPU device.</summary>
    public string TorchDevice => Kind == DeviceKind.Cuda ? Id : "cpu";

    public static string KindName(DeviceKind kind) => kind == DeviceKind.Cuda ? "cuda" : "cpu";
}
