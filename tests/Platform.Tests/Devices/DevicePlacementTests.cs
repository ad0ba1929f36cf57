using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Platform.Grains.Devices;
using Platform.Model.Devices;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Devices;

public interface IDevicePlacedProbeGrain : IGrainWithStringKey
{
    /// <summary>The address of the silo this activation runs on.</summary>
    Task<string> Silo();
}

/// <summary>Stands in for the trainer grain: device-placed, and able to say where it runs.</summary>
[DevicePlacement]
public sealed class DevicePlacedProbeGrain(ILocalSiloDetails silo) : Grain, IDevicePlacedProbeGrain
{
    public Task<string> Silo() => Task.FromResult(silo.SiloAddress.ToParsableString());
}

/// <summary>Two silos: A offers one CPU slot, B one (pretend) GPU.</summary>
public sealed class TwoDeviceSilosFixture(AzuriteFixture azurite) : IAsyncLifetime
{
    public static readonly TrainingDevice CpuOfA = new(DeviceKind.Cpu, 0, "test CPU A", 8L << 30);
    public static readonly TrainingDevice GpuOfB = new(DeviceKind.Cuda, 0, "test GPU B", 80L << 30);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public async ValueTask InitializeAsync() => Cluster = await StartAsync(azurite, "devices");

    /// <summary>Starts silos A and B and returns once the inventory lists both their devices.</summary>
    public static async Task<InProcessTestCluster> StartAsync(AzuriteFixture azurite, string serviceStem)
    {
        // The first silo built is A, the other B; tests find each by its devices in the inventory. Under a lock: silos may be
        // built at once, and two that both saw no silo yet both became A (a CI run then found no GPU in the inventory).
        var devicesBySilo = new Dictionary<string, IReadOnlyList<TrainingDevice>>();
        var gate = new Lock();
        var cluster = await PlatformTestCluster.StartAsync(azurite.Connection, $"{serviceStem}-{Guid.NewGuid().ToString("N")[..8]}", silos: 2,
            devices: name =>
            {
                lock (gate)
                {
                    if (!devicesBySilo.TryGetValue(name, out var devices))
                        devicesBySilo[name] = devices = devicesBySilo.Count == 0 ? [CpuOfA] : [GpuOfB];
                    return devices;
                }
            });
        // Each silo learns the others' metadata shortly after they join.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while ((await cluster.Client.GetGrain<IDeviceInventoryGrain>(0).ListDevices()).Count < 2)
        {
            if (DateTime.UtcNow > deadline)
            {
                await cluster.DisposeAsync();
                throw new TimeoutException("The silos' devices did not appear in the inventory within a minute.");
            }
            await Task.Delay(100);
        }
        return cluster;
    }

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}

public sealed class DevicePlacementTests(TwoDeviceSilosFixture fixture) : IClassFixture<TwoDeviceSilosFixture>
{
    private async Task<ClusterDevice> DeviceNamedAsync(string name) =>
        (await fixture.Grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices()).Single(d => d.Name == name);

    [Fact]
    public async Task The_inventory_lists_each_silos_advertised_devices_with_kind_index_name_and_memory_and_no_holder()
    {
        var devices = await fixture.Grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices();

        Assert.Equal(2, devices.Count);
        var cpu = devices.Single(d => d.Kind == "cpu");
        var gpu = devices.Single(d => d.Kind == "cuda");
        Assert.Equal(("cpu:0", "test CPU A", 8L << 30), (cpu.Id, cpu.Name, cpu.MemoryBytes));
        Assert.Equal(("cuda:0", "test GPU B", 80L << 30), (gpu.Id, gpu.Name, gpu.MemoryBytes));
        Assert.NotEqual(cpu.Silo, gpu.Silo);
        var silos = fixture.Cluster.Silos.Select(s => s.SiloAddress.ToParsableString()).ToHashSet();
        Assert.Contains(cpu.Silo, silos);
        Assert.Contains(gpu.Silo, silos);
        Assert.All(devices, d => Assert.Null(d.HeldByRun));
    }

    [Fact]
    public async Task Grains_placed_for_silo_Bs_device_activate_on_silo_B_and_those_for_As_device_on_silo_A()
    {
        var gpu = await DeviceNamedAsync("test GPU B");
        var cpu = await DeviceNamedAsync("test CPU A");

        // A silo places what it calls, so each silo calls for both devices: placing on the caller, or at random, would
        // put some activations on the wrong silo.
        foreach (var caller in fixture.Cluster.Silos)
        {
            var grains = caller.ServiceProvider.GetRequiredService<IGrainFactory>();
            for (var i = 0; i < 5; i++)
            {
                var name = $"probe-{caller.SiloAddress.Endpoint.Port}-{i}";
                Assert.Equal(gpu.Silo, await grains.GetGrain<IDevicePlacedProbeGrain>(DevicePlacedKey.Format(gpu.Address, name)).Silo());
                Assert.Equal(cpu.Silo, await grains.GetGrain<IDevicePlacedProbeGrain>(DevicePlacedKey.Format(cpu.Address, name)).Silo());
            }
        }
    }

    [Fact]
    public async Task A_grain_for_a_silo_that_is_gone_fails_to_activate_with_a_message_naming_that_silo()
    {
        var gpu = await DeviceNamedAsync("test GPU B");
        // The same endpoint under an earlier generation: silo B as it was before a restart, gone from the cluster.
        var current = SiloAddress.FromParsableString(gpu.Silo);
        var gone = SiloAddress.New(current.Endpoint, current.Generation - 1).ToParsableString();

        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            fixture.Grains.GetGrain<IDevicePlacedProbeGrain>(DevicePlacedKey.Format(new DeviceAddress(gone, gpu.Id), "probe")).Silo());

        Assert.Contains($"must run on silo {SiloAddress.FromParsableString(gone)}, which owns cuda:0, but that silo is not active", error.Message);
    }

    [Fact]
    public async Task A_grain_for_a_device_its_silo_does_not_advertise_fails_to_activate_with_a_message_listing_what_it_offers()
    {
        var gpu = await DeviceNamedAsync("test GPU B");

        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            fixture.Grains.GetGrain<IDevicePlacedProbeGrain>(DevicePlacedKey.Format(gpu.Address with { Device = "cuda:1" }, "probe")).Silo());

        Assert.Contains("advertises cuda:0", error.Message);
    }

    [Fact]
    public async Task A_device_placed_grain_whose_key_names_no_device_fails_to_activate()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => fixture.Grains.GetGrain<IDevicePlacedProbeGrain>("no-device").Silo());

        Assert.Contains("its key must be SILO/DEVICE/NAME", error.Message);
    }
}

/// <summary>Device placement when the owning silo leaves: its own cluster, since a silo is stopped.</summary>
public sealed class DevicePlacementAfterSiloLossTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_grain_whose_silo_stopped_is_not_reactivated_elsewhere_and_its_calls_fail_naming_the_silo()
    {
        await using var cluster = await TwoDeviceSilosFixture.StartAsync(azurite, "device-loss");
        var inventory = cluster.Client.GetGrain<IDeviceInventoryGrain>(0);
        var gpu = (await inventory.ListDevices()).Single(d => d.Kind == "cuda");
        var silo = cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == gpu.Silo);
        var survivor = cluster.Silos.Single(s => s != silo);
        var key = DevicePlacedKey.Format(gpu.Address, "trainer");
        Assert.Equal(gpu.Silo, await cluster.Client.GetGrain<IDevicePlacedProbeGrain>(key).Silo());

        await cluster.StopSiloAsync(silo, TestContext.Current.CancellationToken);

        var grains = survivor.ServiceProvider.GetRequiredService<IGrainFactory>();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => grains.GetGrain<IDevicePlacedProbeGrain>(key).Silo());
        Assert.Contains($"must run on silo {SiloAddress.FromParsableString(gpu.Silo)}, which owns cuda:0, but that silo is not active", error.Message);
        Assert.DoesNotContain(await inventory.ListDevices(), d => d.Kind == "cuda");
    }
}
