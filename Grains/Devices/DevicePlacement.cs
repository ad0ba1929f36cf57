using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace Platform.Grains.Devices;

/// <summary>
/// Places a grain on the silo owning the device its key names (<see cref="DevicePlacedKey"/>) and
/// nowhere else: a trainer must run where its allocated device is.
/// </summary>
public sealed class DevicePlacement : PlacementStrategy;

/// <summary>Marks a grain class whose activations run on the silo owning the device named in their key.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class DevicePlacementAttribute() : PlacementAttribute(new DevicePlacement());

/// <summary>
/// Refuses the activation, rather than placing it elsewhere, when the key names no device, when the
/// owning silo is not active (it left the cluster, or restarted under a new generation), or when that
/// silo does not advertise the device. The caller sees the reason in the exception.
/// </summary>
public sealed class DevicePlacementDirector(ISiloMetadataCache metadata) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var grain = target.GrainIdentity;
        if (!DevicePlacedKey.TryParse(grain.Key.ToString() ?? "", out var device, out _))
            throw new OrleansException($"Grain {grain} uses device placement, so its key must be SILO/DEVICE/NAME (see {nameof(DevicePlacedKey)}).");
        SiloAddress owner;
        try
        {
            owner = SiloAddress.FromParsableString(device.Silo);
        }
        catch (FormatException)
        {
            throw new OrleansException($"Grain {grain} names silo '{device.Silo}', which is not a silo address (ip:port@generation).");
        }

        if (!context.GetCompatibleSilos(target).Contains(owner))
            throw new OrleansException(
                $"Grain {grain} must run on silo {owner}, which owns {device.Device}, but that silo is not active in the cluster; it is never placed elsewhere.");
        var offered = SiloDeviceMetadata.Read(metadata.GetSiloMetadata(owner));
        if (!offered.Any(d => d.Id == device.Device))
            throw new OrleansException(
                $"Grain {grain} must run on the silo owning {device.Device}, but silo {owner} advertises {(offered.Count == 0 ? "no devices" : string.Join(", ", offered.Select(d => d.Id)))}.");
        return Task.FromResult(owner);
    }
}
