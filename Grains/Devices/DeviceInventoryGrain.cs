using Orleans.Concurrency;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Platform.Grains.Training;

namespace Platform.Grains.Devices;

/// <summary>
/// Lists the devices the active silos advertise, from this silo's membership view and silo metadata
/// cache, each with the run the training scheduler gave it to; a stateless worker, so each silo answers locally.
/// </summary>
[StatelessWorker]
public sealed class DeviceInventoryGrain(IClusterMembershipService membership, ISiloMetadataCache metadata) : Grain, IDeviceInventoryGrain
{
    public async Task<IReadOnlyList<ClusterDevice>> ListDevices()
    {
        var holders = (await GrainFactory.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key).Allocations())
            .ToDictionary(a => a.Device, a => a.RunId);
        return [.. ActiveDevices(membership, metadata).Select(d => d with { HeldByRun = holders.GetValueOrDefault(d.Address) })];
    }

    /// <summary>
    /// The devices of the active silos, without holders: what the scheduler allocates from (it cannot ask this grain,
    /// which asks it for the holders).
    /// </summary>
    public static IReadOnlyList<ClusterDevice> ActiveDevices(IClusterMembershipService membership, ISiloMetadataCache metadata) =>
        membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .SelectMany(m => SiloDeviceMetadata.Read(metadata.GetSiloMetadata(m.SiloAddress)).Select(d =>
                new ClusterDevice(m.SiloAddress.ToParsableString(), m.Name, d.Kind, d.Index, d.Name, d.MemoryBytes, HeldByRun: null)))
            .OrderBy(d => d.SiloName, StringComparer.Ordinal).ThenBy(d => d.Silo, StringComparer.Ordinal)
            .ThenBy(d => d.Kind, StringComparer.Ordinal).ThenBy(d => d.Index)
            .ToList();
}
