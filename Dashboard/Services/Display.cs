using System.Globalization;
using Platform.Grains.Training;

namespace Platform.Dashboard.Services;

/// <summary>How the pages write numbers, sizes and times: invariant culture, short units.</summary>
public static class Display
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB"];

    public static string Bytes(long bytes)
    {
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < Units.Length - 1) { value /= 1024; unit++; }
        return unit == 0 ? $"{bytes} B" : value.ToString("0.0", CultureInfo.InvariantCulture) + " " + Units[unit];
    }

    public static string Count(long count) => count.ToString("N0", CultureInfo.InvariantCulture);

    public static string Number(double value) => value.ToString(Math.Abs(value) is >= 1000 or 0 ? "0" : "0.####", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset? time) => time?.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) ?? "—";

    public static string Duration(TimeSpan? span) => span is not { } s ? "—"
        : s.TotalHours >= 1 ? $"{(int)s.TotalHours} h {s.Minutes} min" : s.TotalMinutes >= 1 ? $"{s.Minutes} min {s.Seconds} s" : $"{s.TotalSeconds:0} s";

    public static string RunLink(string runId) => $"/runs/{Uri.EscapeDataString(runId)}";

    public static string PhaseClass(TrainingRunPhase phase) => $"phase phase-{phase.ToString().ToLowerInvariant()}";
}
