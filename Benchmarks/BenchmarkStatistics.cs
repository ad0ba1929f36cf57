namespace Platform.Benchmarks;

/// <summary>Summaries of repeated timings; medians, so that one round slowed by other load on the machine does not move the figure.</summary>
internal static class BenchmarkStatistics
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("No values to take the median of.", nameof(values));
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
