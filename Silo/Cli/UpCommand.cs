using System.CommandLine;

namespace Platform.Silo.Cli;

public static class UpCommand
{
    public static Command Create()
    {
        var command = new Command("up", "Run the embedded platform (silo, Hangfire, dashboards) until Ctrl+C or SIGTERM.");
        command.SetAction((_, _) => Task.FromResult(0));
        return command;
    }
}
