using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text.Json;

namespace Platform.Silo.Cli;

/// <summary>
/// Bad input to the model, evaluation and bench commands: files and folders that are missing or unreadable,
/// damaged checkpoints and vocabularies, unknown names, numbers out of range. The libraries throw these with a message that
/// names the path and what to give instead; a command prints it as one line and exits with code 2.
/// Anything else is a fault of the platform and keeps its stack trace.
/// </summary>
internal static class CommandInputErrors
{
    public const int ExitCode = 2;

    public static bool IsInputError(Exception e) =>
        e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException
            or UnauthorizedAccessException or JsonException;

    /// <summary>Writes "COMMAND: message" as one line on stderr and returns the exit code for bad input.</summary>
    public static int Report(string command, Exception e)
    {
        Console.Error.WriteLine($"{command}: {OneLine(e)}");
        return ExitCode;
    }

    /// <summary>
    /// Makes every command under <paramref name="group"/> answer bad input as <see cref="Report"/> does, for commands
    /// from an assembly that cannot see this one (the benchmarks'): they throw the exceptions <see cref="IsInputError"/>
    /// knows, naming the option and what to give, and this prints them as one line with exit code 2.
    /// </summary>
    public static Command ReportingInputErrors(Command group, string path)
    {
        if (group.Action is AsynchronousCommandLineAction action) group.Action = new InputErrorReporting(path, action);
        foreach (var command in group.Subcommands) ReportingInputErrors(command, $"{path} {command.Name}");
        return group;
    }

    private sealed class InputErrorReporting(string command, AsynchronousCommandLineAction inner) : AsynchronousCommandLineAction
    {
        public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
        {
            try
            {
                return await inner.InvokeAsync(parseResult, cancellationToken);
            }
            catch (Exception e) when (IsInputError(e))
            {
                return Report(command, e);
            }
        }
    }

    private static string OneLine(Exception e)
    {
        string message = e.Message;
        // ArgumentException appends "(Parameter 'name')": a C# name, not the option the person typed.
        if (e is ArgumentException { ParamName: { } parameter })
            message = message.Replace($" (Parameter '{parameter}')", "", StringComparison.Ordinal);
        return string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
