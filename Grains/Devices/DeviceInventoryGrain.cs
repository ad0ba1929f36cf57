using Orleans.Concurrency;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Platform.Grains.Devices;

/// <summary>
/// Lists the devices the active silos advertise, from this silo's membership view and silo metadata
/// cache; a stateless worker, so each silo answers locally.
/// </summary>
[StatelessWorker]
public sealed class DeviceInventoryGrain(IClusterMembershipService membership, ISiloMetadataCache metadata) : Grain, IDeviceInventoryGrain
{
    public Task<IReadOnlyList<ClusterDevice>> ListDevices()
    {
        IReadOnlyList<ClusterDevice> devices = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .SelectMany(m => SiloDeviceMetadata.Read(metadata.GetSiloMetadata(m.SiloAddress)).Select(d =>
                // HeldByRun is the scheduler's to fill from its allocation table once runs hold devices.
                new ClusterDevice(m.SiloAddress.ToParsableString(), m.Name, d.Kind, d.Index, d.Name, d.MemoryBytes, HeldByRun: null)))
            .OrderBy(d => d.SiloName, StringComparer.Ordinal).ThenBy(d => d.Silo, StringComparer.Ordinal)
            .ThenBy(d => d.Kind, StringComparer.Ordinal).ThenBy(d => d.Index)
            .ToList();
        return Task.FromResult(devices);
    }
}
