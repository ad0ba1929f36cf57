using System.Collections.Concurrent;

[assembly: AssemblyFixture(typeof(Platform.Tests.Faults.FaultSuiteReport))]

namespace Platform.Tests.Faults;

/// <summary>
/// The fault-injection suite's tally: each test records, per category, how many inputs it tried, how many faults it injected and
/// how much data was lost (which must be 0), and the totals are printed once, one line per category, when the test assembly ends
/// (to the console and to <c>fault-suite-report.txt</c> beside the test assembly, where a CI log can pick it up).
/// </summary>
public sealed class FaultSuiteReport : IDisposable
{
    private static readonly ConcurrentDictionary<string, (int InputsTried, int FaultsInjected, int DataLost)> Categories = new(StringComparer.Ordinal);

    public static void Record(string category, int inputsTried, int faultsInjected, int dataLost) =>
        Categories.AddOrUpdate(category, (inputsTried, faultsInjected, dataLost),
            (_, sum) => (sum.InputsTried + inputsTried, sum.FaultsInjected + faultsInjected, sum.DataLost + dataLost));

    public static IReadOnlyList<string> Lines() =>
        [.. Categories.OrderBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => $"fault suite: {c.Key}: inputs tried={c.Value.InputsTried} faults injected={c.Value.FaultsInjected} data lost={c.Value.DataLost}")];

    public void Dispose()
    {
        var lines = Lines();
        if (lines.Count == 0) return;
        foreach (var line in lines) Console.WriteLine(line);
        File.WriteAllLines(Path.Combine(AppContext.BaseDirectory, "fault-suite-report.txt"), lines);
    }
}
