using Platform.Grains.Devices;

namespace Platform.Silo.Hosting;

/// <summary>`GET /api/devices`: every training device in the cluster, as `platform devices` lists them.</summary>
public static class DevicesEndpoints
{
    public const string DevicesPath = "/api/devices";

    public static void MapPlatformDevicesApi(this IEndpointRouteBuilder endpoints, string? authorizationPolicy)
    {
        // The inventory shows the cluster's machines: guarded like the rest of the API.
        var group = endpoints.MapGroup(DevicesPath).GuardedLikeTheDashboards(authorizationPolicy);
        group.MapGet("", async (IGrainFactory grains) =>
        {
            var devices = await grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices();
            return Results.Ok(new
            {
                devices = devices.Select(d => new { d.Silo, d.SiloName, d.Id, d.Kind, d.Index, d.Name, d.MemoryBytes, d.HeldByRun }),
            });
        });
    }
}
