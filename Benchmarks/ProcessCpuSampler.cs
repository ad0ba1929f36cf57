using System.Diagnostics;
using System.Globalization;

namespace Platform.Benchmarks;

/// <summary>
/// The CPU a window of a benchmark used: cores (process CPU seconds per wall-clock second) and the busiest OS threads' loads
/// (each thread's CPU seconds per wall-clock second, highest first). A trainer limited to one libtorch thread shows as one
/// thread near 1 (machine allowing) and no second busy one; a libtorch pool of several threads would show as more.
/// </summary>
public sealed record CpuUse(double Cores, IReadOnlyList<double> BusiestThreads, double SampledSeconds);

/// <summary>
/// Samples this process's CPU time, and on Linux each of its threads' (from /proc/self/task), a few times a second on a
/// thread of its own, so that a window known only afterwards (from the runs' own step records) can be looked up.
/// </summary>
public sealed class ProcessCpuSampler : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    // USER_HZ: the unit of /proc's utime and stime, 100 on every Linux the platform runs on.
    private const double TicksPerSecond = 100;

    private sealed record Sample(DateTimeOffset At, double ProcessSeconds, IReadOnlyDictionary<int, long> ThreadTicks);

    private readonly List<Sample> samples = [];
    private readonly CancellationTokenSource stop = new();
    private readonly Thread thread;

    public ProcessCpuSampler()
    {
        thread = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var sample = Take();
                lock (samples) samples.Add(sample);
                stop.Token.WaitHandle.WaitOne(Interval);
            }
        }) { IsBackground = true, Name = "CPU sampler" };
        thread.Start();
    }

    /// <summary>The use between the first sample at or after <paramref name="from"/> and the last at or before <paramref name="to"/>; null when fewer than two fall inside.</summary>
    public CpuUse? Use(DateTimeOffset from, DateTimeOffset to)
    {
        Sample[] inside;
        lock (samples) inside = samples.Where(s => s.At >= from && s.At <= to).ToArray();
        if (inside.Length < 2) return null;
        var (first, last) = (inside[0], inside[^1]);
        double seconds = (last.At - first.At).TotalSeconds;
        // Summed sample to sample, so that a thread started within the window (a replica's thread of one round) counts
        // from its start; one that ended loses only its last interval.
        var threadTicks = new Dictionary<int, long>();
        for (int i = 1; i < inside.Length; i++)
            foreach (var (id, ticks) in inside[i].ThreadTicks)
                threadTicks[id] = threadTicks.GetValueOrDefault(id) + ticks - inside[i - 1].ThreadTicks.GetValueOrDefault(id);
        var threads = threadTicks.Values.Select(ticks => ticks / TicksPerSecond / seconds).OrderDescending().Take(4).ToArray();
        return new CpuUse((last.ProcessSeconds - first.ProcessSeconds) / seconds, threads, seconds);
    }

    private static Sample Take()
    {
        using var process = Process.GetCurrentProcess();
        var threads = new Dictionary<int, long>();
        if (OperatingSystem.IsLinux())
            foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
                if (ReadTicks(Path.Combine(task, "stat")) is long ticks && int.TryParse(Path.GetFileName(task), out int id)) threads[id] = ticks;
        return new Sample(DateTimeOffset.UtcNow, process.TotalProcessorTime.TotalSeconds, threads);
    }

    /// <summary>utime + stime of a /proc stat line: fields 14 and 15, counted after the command name's closing parenthesis.</summary>
    private static long? ReadTicks(string statFile)
    {
        try
        {
            string line = File.ReadAllText(statFile);
            var fields = line[(line.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null; // a thread that ended between listing and reading
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        thread.Join();
        stop.Dispose();
    }
}
