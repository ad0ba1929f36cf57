namespace Platform.Model.Devices;

/// <summary>
/// Which devices a silo offers, as `Training:Devices` says: empty or `auto` (the CUDA devices libtorch
/// finds, else one CPU slot), `none` (a silo that never trains), or a comma-separated list of `cpu`
/// (one CPU slot each) and `cuda:N` entries.
/// </summary>
public sealed class DeviceSelection
{
    private readonly IReadOnlyList<(DeviceKind Kind, int Index)> _entries;

    private DeviceSelection(bool isAuto, IReadOnlyList<(DeviceKind, int)> entries)
    {
        IsAuto = isAuto;
        _entries = entries;
    }

    public bool IsAuto { get; }

    public bool IsNone => !IsAuto && _entries.Count == 0;

    /// <summary>Whether resolving asks libtorch for CUDA devices (loading it); a list of CPU slots does not.</summary>
    public bool NeedsCudaDetection => IsAuto || _entries.Any(e => e.Kind == DeviceKind.Cuda);

    public static bool TryParse(string? text, out DeviceSelection selection, out string? problem)
    {
        selection = new DeviceSelection(true, []);
        problem = null;
        var value = text?.Trim() ?? "";
        if (value.Length == 0 || value.Equals("auto", StringComparison.OrdinalIgnoreCase)) return true;
        if (value.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            selection = new DeviceSelection(false, []);
            return true;
        }

        var entries = new List<(DeviceKind, int)>();
        var cpuSlots = 0;
        foreach (var raw in value.Split(','))
        {
            var entry = raw.Trim().ToLowerInvariant();
            if (entry == "cpu")
            {
                entries.Add((DeviceKind.Cpu, cpuSlots++));
                continue;
            }
            if (entry.StartsWith("cuda:", StringComparison.Ordinal)
                && int.TryParse(entry.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ordinal))
            {
                if (entries.Contains((DeviceKind.Cuda, ordinal)))
                {
                    problem = $"names cuda:{ordinal} twice.";
                    return false;
                }
                entries.Add((DeviceKind.Cuda, ordinal));
                continue;
            }
            problem = entry is "none" or "auto"
                ? $"mixes '{entry}' with devices; use '{entry}' alone."
                : $"has '{raw.Trim()}', which is not a device; use auto, none, or a comma-separated list of cpu and cuda:N (e.g. cpu,cpu or cuda:0,cuda:1).";
            return false;
        }
        selection = new DeviceSelection(false, entries);
        return true;
    }

    /// <summary>The devices this silo offers, given what this machine has.</summary>
    /// <param name="detectedCuda">The CUDA devices libtorch can use here (none with the CPU bundle).</param>
    /// <param name="cpuSlot">Describes CPU slot N of this machine.</param>
    /// <exception cref="InvalidOperationException">A `cuda:N` entry names a device libtorch does not find.</exception>
    public IReadOnlyList<TrainingDevice> Resolve(IReadOnlyList<TrainingDevice> detectedCuda, Func<int, TrainingDevice> cpuSlot)
    {
        if (IsAuto) return detectedCuda.Count > 0 ? detectedCuda : [cpuSlot(0)];
        return _entries.Select(e => e.Kind == DeviceKind.Cpu
            ? cpuSlot(e.Index)
            : detectedCuda.FirstOrDefault(d => d.Index == e.Index)
                ?? throw new InvalidOperationException(
                    $"names cuda:{e.Index}, but libtorch finds {(detectedCuda.Count == 0 ? "no CUDA device here" : $"only {string.Join(", ", detectedCuda.Select(d => d.Id))}")}."))
            .ToList();
    }
}
