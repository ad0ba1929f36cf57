using System.Diagnostics;

namespace Platform.Ingestion.Tests;

/// <summary>Runs the independent tools (wget, node/warcio) the interoperability tests compare against.</summary>
internal static class ExternalTools
{
    private static bool OnCi => Environment.GetEnvironmentVariable("CI") == "true";

    /// <summary>Skips the test when a tool is missing on a developer machine; on CI a missing tool is a failure.</summary>
    public static void RequireOrSkip(bool present, string what)
    {
        if (present) return;
        if (OnCi) Assert.Fail($"{what} is required on CI but was not found.");
        Assert.Skip($"{what} is not installed on this machine; the interoperability test needs it.");
    }

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    /// <summary>The repository's node_modules, found by walking up from the test binaries.</summary>
    public static string? FindNodeModules()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    public static (int ExitCode, string Output, string Error) Run(string file, IEnumerable<string> arguments, string? workingDirectory = null, int timeoutMs = 60_000)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutMs))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish in {timeoutMs} ms");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
