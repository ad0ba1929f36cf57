using Platform.Grains.Devices;

namespace Platform.Grains.Training;

/// <summary>A queued run as the allocator sees it.</summary>
/// <param name="DeviceKind">`cpu` or `cuda`; null takes devices of any one kind.</param>
/// <param name="Requeued">The run lost its devices (a lost or stalled trainer, a departed silo): it goes before every other waiting run.</param>
/// <param name="MinDevices">
/// Fewer devices the run may start with, null: all of <paramref name="Devices"/>. A requeued multi-trainer run starts with
/// the replicas it can have and takes the others back as devices free up, rather than wait for a cluster that lost a silo.
/// </param>
public sealed record GangRequest(string RunId, int Devices, string? DeviceKind, int Priority, long SubmissionOrder, bool Requeued, int? MinDevices = null)
{
    /// <summary>The fewest devices the run can start with.</summary>
    public int Needed => Math.Clamp(MinDevices ?? Devices, 1, Devices);
}

/// <summary>What one placement round decided: the runs that get devices now, and why each other run waits.</summary>
public sealed record GangPlan(IReadOnlyList<(GangRequest Run, IReadOnlyList<DeviceAddress> Devices)> Placements, IReadOnlyDictionary<string, string> Waiting);

/// <summary>
/// Gang allocation: each queued run, in queue order (requeued runs first, then priority, then submission order), gets all
/// the devices it asks for, of one kind, or none. A run that waits for devices the cluster has but others hold keeps
/// the runs behind it off those kinds, so a big run is not starved by a stream of small ones; a run the cluster as it
/// is now can never satisfy blocks nobody. Pure: the scheduler grain passes the devices of the active silos and those
/// held.
/// </summary>
public static class GangAllocator
{
    /// <summary>The scheduler's queue order.</summary>
    public static IOrderedEnumerable<GangRequest> QueueOrder(IEnumerable<GangRequest> runs) =>
        runs.OrderByDescending(r => r.Requeued).ThenByDescending(r => r.Priority).ThenBy(r => r.SubmissionOrder);

    /// <param name="devices">Every device of the cluster's active silos.</param>
    /// <param name="held">The devices allocated to runs now.</param>
    public static GangPlan Plan(IEnumerable<GangRequest> queued, IReadOnlyList<ClusterDevice> devices, IReadOnlySet<DeviceAddress> held)
    {
        var offered = devices.GroupBy(d => d.Kind, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        // Devices of one silo together first, so a gang shares a machine where it can.
        var free = devices.Where(d => !held.Contains(d.Address))
            .OrderBy(d => d.SiloName, StringComparer.Ordinal).ThenBy(d => d.Silo, StringComparer.Ordinal).ThenBy(d => d.Index)
            .GroupBy(d => d.Kind, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var reservedBy = new Dictionary<string, string>(StringComparer.Ordinal);
        var placements = new List<(GangRequest, IReadOnlyList<DeviceAddress>)>();
        var waiting = new Dictionary<string, string>(StringComparer.Ordinal);

        foreach (var run in QueueOrder(queued))
        {
            var kinds = run.DeviceKind is { } kind ? [kind] : KindsByPreference(offered.Keys);
            var satisfiable = kinds.Where(k => offered.GetValueOrDefault(k) >= run.Needed).ToList();
            if (satisfiable.Count == 0)
            {
                waiting[run.RunId] = $"needs {Wanted(run)}, the cluster offers {Offered(run, offered)}";
                continue;
            }
            var open = satisfiable.Where(k => !reservedBy.ContainsKey(k)).ToList();
            if (open.Count == 0)
            {
                waiting[run.RunId] = $"waits for {Wanted(run)} behind run {reservedBy[satisfiable[0]]}";
                continue;
            }
            if (open.FirstOrDefault(k => free.GetValueOrDefault(k)?.Count >= run.Needed) is { } chosen)
            {
                var taken = Take(free[chosen], Math.Min(run.Devices, free[chosen].Count));
                placements.Add((run, taken.Select(d => d.Address).ToList()));
                continue;
            }
            var mostFree = open.Max(k => free.GetValueOrDefault(k)?.Count ?? 0);
            waiting[run.RunId] = $"needs {Wanted(run)}, {(mostFree == 0 ? "none" : run.DeviceKind is null ? $"at most {mostFree}" : $"{mostFree}")} free";
            foreach (var k in open) reservedBy[k] = run.RunId;
        }
        return new GangPlan(placements, waiting);
    }

    /// <summary>
    /// The device to lend an evaluation, or why none: a free device whose kind no queued run waits for (a run the cluster
    /// could place some day keeps every kind it could take), GPUs first, so an evaluation never delays a run. Pure: the
    /// scheduler passes the runs still queued after placing what it could.
    /// </summary>
    public static (DeviceAddress? Device, string? WaitingReason) Lend(IEnumerable<GangRequest> queued, IReadOnlyList<ClusterDevice> devices, IReadOnlySet<DeviceAddress> held)
    {
        var wantedBy = KindsWanted(queued, devices);
        var free = devices.Where(d => !held.Contains(d.Address)).ToList();
        var lendable = free.Where(d => !wantedBy.ContainsKey(d.Kind))
            .OrderBy(d => d.Kind == "cuda" ? 0 : 1).ThenBy(d => d.SiloName, StringComparer.Ordinal).ThenBy(d => d.Silo, StringComparer.Ordinal).ThenBy(d => d.Index)
            .FirstOrDefault();
        if (lendable is not null) return (lendable.Address, null);
        if (free.Count == 0) return (null, devices.Count == 0 ? "the cluster offers no devices" : $"all {devices.Count} devices are held");
        var kinds = free.Select(d => d.Kind).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        return (null, $"the free {string.Join(" and ", kinds)} devices are kept for queued run {string.Join(", ", kinds.Select(k => wantedBy[k]).Distinct(StringComparer.Ordinal))}");
    }

    /// <summary>
    /// Devices for a running multi-trainer run that has fewer than it asked for (it lost a replica's silo, or started short):
    /// up to <paramref name="missing"/> free devices of the run's <paramref name="kind"/>, only of a kind no queued run could
    /// take (as for a loan), so a replacement never delays a waiting run. Pure, like <see cref="Plan"/>.
    /// </summary>
    public static IReadOnlyList<DeviceAddress> Replacements(int missing, string kind, IEnumerable<GangRequest> queued, IReadOnlyList<ClusterDevice> devices, IReadOnlySet<DeviceAddress> held)
    {
        if (missing < 1 || KindsWanted(queued, devices).ContainsKey(kind)) return [];
        return devices.Where(d => d.Kind == kind && !held.Contains(d.Address))
            .OrderBy(d => d.SiloName, StringComparer.Ordinal).ThenBy(d => d.Silo, StringComparer.Ordinal).ThenBy(d => d.Index)
            .Take(missing).Select(d => d.Address).ToList();
    }

    /// <summary>Each kind some queued run could take (the cluster offers enough of it), with the first such run in queue order.</summary>
    private static Dictionary<string, string> KindsWanted(IEnumerable<GangRequest> queued, IReadOnlyList<ClusterDevice> devices)
    {
        var offered = devices.GroupBy(d => d.Kind, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var wantedBy = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var run in QueueOrder(queued))
            foreach (var kind in run.DeviceKind is { } k ? [k] : offered.Keys.ToList())
                if (offered.GetValueOrDefault(kind) >= run.Needed) wantedBy.TryAdd(kind, run.RunId);
        return wantedBy;
    }

    /// <summary>A run of any kind takes GPUs before CPU slots.</summary>
    private static List<string> KindsByPreference(IEnumerable<string> kinds) =>
        [.. kinds.OrderBy(k => k == "cuda" ? 0 : 1).ThenBy(k => k, StringComparer.Ordinal)];

    /// <summary>Removes <paramref name="count"/> devices from <paramref name="free"/>: all from the first silo that has them, else in order.</summary>
    private static List<ClusterDevice> Take(List<ClusterDevice> free, int count)
    {
        var oneSilo = free.GroupBy(d => d.Silo, StringComparer.Ordinal).FirstOrDefault(g => g.Count() >= count);
        var taken = (oneSilo ?? (IEnumerable<ClusterDevice>)free).Take(count).ToList();
        foreach (var device in taken) free.Remove(device);
        return taken;
    }

    private static string Wanted(GangRequest run) =>
        run.DeviceKind is { } kind ? $"{run.Devices} {kind} device{(run.Devices == 1 ? "" : "s")}" : $"{run.Devices} device{(run.Devices == 1 ? "" : "s")} of one kind";

    private static string Offered(GangRequest run, Dictionary<string, int> offered)
    {
        var most = run.DeviceKind is { } kind ? offered.GetValueOrDefault(kind) : offered.Values.DefaultIfEmpty(0).Max();
        return most == 0 ? "none" : run.DeviceKind is null ? $"at most {most} of a kind" : $"{most}";
    }
}
