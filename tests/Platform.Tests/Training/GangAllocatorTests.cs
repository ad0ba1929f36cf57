using Platform.Grains.Devices;
using Platform.Grains.Training;

namespace Platform.Tests.Training;

public sealed class GangAllocatorTests
{
    private static ClusterDevice Device(string silo, string kind, int index) => new($"10.0.0.{silo[^1]}:11111@1", silo, kind, index, $"{kind} {index}", 1L << 30, null);

    private static GangRequest Run(string id, int devices = 1, string? kind = null, int priority = 0, long order = 0, bool requeued = false) =>
        new(id, devices, kind, priority, order, requeued);

    private static readonly HashSet<DeviceAddress> NoneHeld = [];

    private static string[] Placed(GangPlan plan) => [.. plan.Placements.Select(p => p.Run.RunId)];

    [Fact]
    public void Higher_priority_runs_are_placed_first_and_equal_priorities_in_submission_order()
    {
        ClusterDevice[] devices = [Device("s1", "cpu", 0), Device("s1", "cpu", 1)];

        var plan = GangAllocator.Plan([Run("low-first", order: 1), Run("high", priority: 5, order: 3), Run("low-second", order: 2)], devices, NoneHeld);

        Assert.Equal(["high", "low-first"], Placed(plan));
        Assert.Equal("needs 1 device of one kind, none free", plan.Waiting["low-second"]);
    }

    [Fact]
    public void A_requeued_multi_trainer_run_starts_with_the_devices_left_while_a_fresh_gang_still_waits_for_all()
    {
        // The cluster lost the silo of the run's second replica: one cpu slot is left of the two it had.
        ClusterDevice[] devices = [Device("s1", "cpu", 0)];

        var requeued = GangAllocator.Plan([Run("diloco", devices: 2, requeued: true) with { MinDevices = 1 }], devices, NoneHeld);
        var fresh = GangAllocator.Plan([Run("gang", devices: 2)], devices, NoneHeld);

        var (_, taken) = Assert.Single(requeued.Placements);
        Assert.Equal([devices[0].Address], taken);
        Assert.Empty(fresh.Placements);
        Assert.Equal("needs 2 devices of one kind, the cluster offers at most 1 of a kind", fresh.Waiting["gang"]);
    }

    [Fact]
    public void A_run_short_of_replicas_gets_free_devices_of_its_kind_that_no_queued_run_could_take()
    {
        ClusterDevice[] devices = [Device("s1", "cpu", 0), Device("s2", "cpu", 0), Device("s2", "cuda", 0)];
        HashSet<DeviceAddress> held = [devices[0].Address];

        var replacements = GangAllocator.Replacements(2, "cpu", [], devices, held);
        var keptForQueued = GangAllocator.Replacements(1, "cpu", [Run("waiting", kind: "cpu")], devices, held);

        Assert.Equal([devices[1].Address], replacements);
        Assert.Empty(keptForQueued);
    }

    [Fact]
    public void A_requeued_run_goes_before_runs_of_higher_priority()
    {
        ClusterDevice[] devices = [Device("s1", "cpu", 0)];

        var plan = GangAllocator.Plan([Run("urgent", priority: 9, order: 1), Run("lost", order: 2, requeued: true)], devices, NoneHeld);

        Assert.Equal(["lost"], Placed(plan));
        Assert.Contains("urgent", plan.Waiting.Keys);
    }

    [Fact]
    public void A_gang_gets_all_its_devices_of_one_kind_or_none_and_says_how_many_are_free()
    {
        ClusterDevice[] devices = [Device("s1", "cuda", 0), Device("s2", "cuda", 0), Device("s2", "cpu", 0)];
        HashSet<DeviceAddress> held = [devices[0].Address];

        var waiting = GangAllocator.Plan([Run("pair", devices: 2, kind: "cuda")], devices, held);
        var placed = GangAllocator.Plan([Run("pair", devices: 2, kind: "cuda")], devices, NoneHeld);

        Assert.Empty(waiting.Placements);
        Assert.Equal("needs 2 cuda devices, 1 free", waiting.Waiting["pair"]);
        var (_, gang) = Assert.Single(placed.Placements);
        Assert.Equal([devices[0].Address, devices[1].Address], gang.OrderBy(d => d.Silo));
    }

    [Fact]
    public void A_run_of_any_kind_takes_devices_of_a_single_kind_and_gpus_before_cpus()
    {
        ClusterDevice[] devices = [Device("s1", "cpu", 0), Device("s1", "cuda", 0), Device("s2", "cpu", 0)];

        var two = GangAllocator.Plan([Run("two", devices: 2)], devices, NoneHeld);
        var one = GangAllocator.Plan([Run("one")], devices, NoneHeld);

        Assert.All(Assert.Single(two.Placements).Devices, d => Assert.StartsWith("cpu:", d.Device));
        Assert.Equal("cuda:0", Assert.Single(Assert.Single(one.Placements).Devices).Device);
    }

    [Fact]
    public void A_gang_shares_one_silo_when_a_silo_has_enough_free_devices()
    {
        ClusterDevice[] devices = [Device("s1", "cpu", 0), Device("s2", "cpu", 0), Device("s2", "cpu", 1)];

        var plan = GangAllocator.Plan([Run("pair", devices: 2, kind: "cpu")], devices, NoneHeld);

        Assert.All(Assert.Single(plan.Placements).Devices, d => Assert.Equal(devices[1].Silo, d.Silo));
    }

    [Fact]
    public void A_run_the_cluster_can_never_satisfy_says_so_and_does_not_block_the_runs_behind_it()
    {
        ClusterDevice[] devices = [Device("s1", "cuda", 0), Device("s2", "cpu", 0)];

        var plan = GangAllocator.Plan(
            [Run("too-big", devices: 2, kind: "cuda", priority: 9, order: 1), Run("no-kind", devices: 3, order: 2), Run("small", kind: "cuda", order: 3)],
            devices, NoneHeld);

        Assert.Equal(["small"], Placed(plan));
        Assert.Equal("needs 2 cuda devices, the cluster offers 1", plan.Waiting["too-big"]);
        Assert.Equal("needs 3 devices of one kind, the cluster offers at most 1 of a kind", plan.Waiting["no-kind"]);
    }

    [Fact]
    public void A_run_waiting_for_busy_devices_keeps_later_runs_off_its_kind_but_not_off_other_kinds()
    {
        ClusterDevice[] devices = [Device("s1", "cuda", 0), Device("s2", "cuda", 0), Device("s3", "cpu", 0)];
        HashSet<DeviceAddress> held = [devices[0].Address];

        var plan = GangAllocator.Plan(
            [Run("pair", devices: 2, kind: "cuda", order: 1), Run("single-gpu", kind: "cuda", order: 2), Run("single-cpu", kind: "cpu", order: 3)],
            devices, held);

        Assert.Equal(["single-cpu"], Placed(plan));
        Assert.Equal("needs 2 cuda devices, 1 free", plan.Waiting["pair"]);
        Assert.Equal("waits for 1 cuda device behind run pair", plan.Waiting["single-gpu"]);
    }

    [Fact]
    public void With_no_devices_every_run_waits_saying_the_cluster_offers_none()
    {
        var plan = GangAllocator.Plan([Run("a", kind: "cpu"), Run("b")], [], NoneHeld);

        Assert.Empty(plan.Placements);
        Assert.Equal("needs 1 cpu device, the cluster offers none", plan.Waiting["a"]);
        Assert.Equal("needs 1 device of one kind, the cluster offers none", plan.Waiting["b"]);
    }

    [Fact]
    public void A_free_device_no_queued_run_waits_for_is_lent_gpus_first()
    {
        ClusterDevice[] devices = [Device("s1", "cpu", 0), Device("s2", "cuda", 0), Device("s2", "cuda", 1)];
        var trainer = devices[1].Address;

        var (lent, reason) = GangAllocator.Lend([], devices, new HashSet<DeviceAddress> { trainer });

        Assert.Equal(devices[2].Address, lent);
        Assert.Null(reason);
    }

    [Fact]
    public void No_device_is_lent_while_a_queued_run_could_take_its_kind_or_while_all_are_held()
    {
        ClusterDevice[] devices = [Device("s1", "cpu", 0), Device("s2", "cpu", 0)];

        var (wanted, wantedReason) = GangAllocator.Lend([Run("pair", devices: 2, kind: "cpu")], devices, new HashSet<DeviceAddress> { devices[0].Address });
        var (held, heldReason) = GangAllocator.Lend([], devices, devices.Select(d => d.Address).ToHashSet());

        Assert.Null(wanted);
        Assert.Equal("the free cpu devices are kept for queued run pair", wantedReason);
        Assert.Null(held);
        Assert.Equal("all 2 devices are held", heldReason);
    }

    [Fact]
    public void A_queued_run_the_cluster_can_never_place_keeps_no_device_from_an_evaluation()
    {
        ClusterDevice[] devices = [Device("s1", "cpu", 0), Device("s2", "cpu", 0)];

        var (lent, _) = GangAllocator.Lend([Run("too-big", devices: 3, kind: "cpu"), Run("gpu-only", kind: "cuda")], devices, NoneHeld);

        Assert.Equal(devices[0].Address, lent);
    }
}
