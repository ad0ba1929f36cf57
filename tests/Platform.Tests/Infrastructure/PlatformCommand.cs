using System.Diagnostics;

namespace Platform.Tests.Infrastructure;

/// <summary>Runs one `platform` command to completion as a real process.</summary>
public static class PlatformCommand
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError)
    {
        public string LastLine => StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];

        public string[] OwnErrorLines => OwnLines(StandardError);
    }

    /// <summary>The log's level prefixes as the console logger writes them, one entry per line (client commands log so, on stderr).</summary>
    private static readonly string[] LogLevelPrefixes = ["trce: ", "dbug: ", "info: ", "warn: ", "fail: ", "crit: "];

    /// <summary>The lines of a command's stderr that the command wrote itself: its log's lines left out.</summary>
    public static string[] OwnLines(string stderr) => [.. stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Where(line => !LogLevelPrefixes.Any(prefix => line.StartsWith(prefix, StringComparison.Ordinal)))];

    public static Task<Result> RunAsync(TimeSpan timeout, params string[] arguments) => RunAsync(timeout, null, arguments);

    /// <param name="environment">Variables set for the command, e.g. <see cref="PlatformProcess.ClientEnvironment"/> to reach a running platform.</param>
    public static async Task<Result> RunAsync(TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "platform.dll"));
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        // Plain output: no colours or live progress in captured text.
        info.Environment["NO_COLOR"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"platform {string.Join(' ', arguments)} ran past {timeout}");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
