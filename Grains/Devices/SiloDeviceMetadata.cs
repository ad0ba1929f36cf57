using System.Text.Json;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Platform.Model.Devices;

namespace Platform.Grains.Devices;

/// <summary>
/// How a silo advertises its training devices in Orleans silo metadata: one entry whose value lists
/// them as JSON. A silo that offers none advertises an empty list, so "no devices" differs from
/// "metadata not known yet".
/// </summary>
public static class SiloDeviceMetadata
{
    public const string Key = "platform.devices";

    public sealed record AdvertisedDevice(string Kind, int Index, string Name, long MemoryBytes)
    {
        public string Id => $"{Kind}:{Index}";
    }

    public static Dictionary<string, string> ToMetadata(IEnumerable<TrainingDevice> devices) => new()
    {
        [Key] = JsonSerializer.Serialize(devices.Select(d => new AdvertisedDevice(TrainingDevice.KindName(d.Kind), d.Index, d.Name, d.MemoryBytes)).ToList()),
    };

    /// <summary>The devices <paramref name="metadata"/> advertises; none when it advertises none or is not known.</summary>
    public static IReadOnlyList<AdvertisedDevice> Read(SiloMetadata metadata) =>
        metadata.Metadata.TryGetValue(Key, out var json) ? JsonSerializer.Deserialize<List<AdvertisedDevice>>(json) ?? [] : [];
}
