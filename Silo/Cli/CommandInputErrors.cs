using System.Text.Json;

namespace Platform.Silo.Cli;

/// <summary>
/// Bad input to the model and evaluation commands: files and folders that are missing or unreadable,
/// damaged checkpoints and vocabularies, unknown names. The libraries throw these with a message that
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

    private static string OneLine(Exception e)
    {
        string message = e.Message;
        // ArgumentException appends "(Parameter 'name')": a C# name, not the option the person typed.
        if (e is ArgumentException { ParamName: { } parameter })
            message = message.Replace($" (Parameter '{parameter}')", "", StringComparison.Ordinal);
        return string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
