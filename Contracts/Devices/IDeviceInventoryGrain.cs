namespace Platform.Grains.Devices;

/// <summary>
/// Every training device in the cluster, as the active silos advertise them in their silo metadata.
/// Any silo answers from its own membership view and metadata cache, so there is no single owner.
/// </summary>
public interface IDeviceInventoryGrain : IGrainWithIntegerKey
{
    /// <summary>Devices by silo name, then kind and index.</summary>
    Task<IReadOnlyList<ClusterDevice>> ListDevices();
}

/// <summary>One device of one silo.</summary>
/// <param name="Silo">The owning silo's address (`ip:port@generation`): a restarted silo is another owner.</param>
/// <param name="Kind">`cpu` or `cuda`.</param>
/// <param name="Index">The CUDA ordinal, or the CPU slot's number on its silo.</param>
/// <param name="MemoryBytes">The GPU's total memory; for a CPU slot, its machine's memory (shared by its slots).</param>
/// <param name="HeldByRun">The training run the scheduler gave this device to (its allocation table); null while the device is free.</param>
[GenerateSerializer, Immutable]
public sealed record ClusterDevice(
    [property: Id(0)] string Silo,
    [property: Id(1)] string SiloName,
    [property: Id(2)] string Kind,
    [property: Id(3)] int Index,
    [property: Id(4)] string Name,
    [property: Id(5)] long MemoryBytes,
    [property: Id(6)] string? HeldByRun)
{
    /// <summary>`cpu:0`, `cuda:1`: unique on its silo.</summary>
    public string Id => $"{Kind}:{Index}";

    public DeviceAddress Address => new(Silo, Id);
}

/// <summary>A device cluster-wide: its silo's address and its id on that silo.</summary>
[GenerateSerializer, Immutable]
public sealed record DeviceAddress([property: Id(0)] string Silo, [property: Id(1)] string Device)
{
    public override string ToString() => $"{Device} on {Silo}";
}

/// <summary>
/// Keys of grains that must run on the silo owning a device (device placement): `SILO/DEVICE/NAME`,
/// e.g. `127.0.0.1:11111@123456/cuda:0/run-7|0`. Neither a silo address nor a device id holds a '/',
/// so the name after them may be anything.
/// </summary>
public static class DevicePlacedKey
{
    public static string Format(DeviceAddress device, string name)
    {
        if (device.Silo.Contains('/') || device.Device.Contains('/'))
            throw new ArgumentException($"Device address '{device}' must not contain '/'.", nameof(device));
        return $"{device.Silo}/{device.Device}/{name}";
    }

    public static bool TryParse(string key, out DeviceAddress device, out string name)
    {
        var parts = key.Split('/', 3);
        if (parts.Length == 3 && parts[0].Length > 0 && parts[1].Length > 0)
        {
            device = new DeviceAddress(parts[0], parts[1]);
            name = parts[2];
            return true;
        }
        device = new DeviceAddress("", "");
        name = "";
        return false;
    }
}
