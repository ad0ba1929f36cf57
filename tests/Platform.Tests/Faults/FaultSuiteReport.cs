using System.Collections.Concurrent;

[assembly: AssemblyFixture(typeof(Platform.Tests.Faults.FaultSuiteReport))]

namespace Platform.Tests.Faults;

/// <summary>
/// The fault-injection suite's tally: each fault test records what it tried under its category, and the assembly's teardown
/// prints one line per category (inputs tried, faults injected, data lost), so a run shows at a glance that nothing was lost.
/// </summary>
public sealed class FaultSuiteReport : IAsyncDisposable
{
    private sealed record Tally(int InputsTried, int FaultsInjected, int DataLost);

    private static readonly ConcurrentDictionary<string, Tally> Categories = new(StringComparer.Ordinal);

    public static void Record(string category, int inputsTried, int faultsInjected, int dataLost) =>
        Categories.AddOrUpdate(category, new Tally(inputsTried, faultsInjected, dataLost),
            (_, t) => new Tally(t.InputsTried + inputsTried, t.FaultsInjected + faultsInjected, t.DataLost + dataLost));

    /// <summary>One line per category, in name order; empty when no fault test ran.</summary>
    public static IReadOnlyList<string> Lines() =>
        [.. Categories.OrderBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => $"fault suite: {c.Key}: inputs tried {c.Value.InputsTried}, faults injected {c.Value.FaultsInjected}, data lost {c.Value.DataLost}")];

    public ValueTask DisposeAsync()
    {
        foreach (var line in Lines()) Console.WriteLine(line);
        return ValueTask.CompletedTask;
    }
}
