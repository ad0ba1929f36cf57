using System.CommandLine;
using Platform.Silo.Cli;

// Signals are left to each command: `up` shuts its host down gracefully on Ctrl+C and SIGTERM,
// which a forced exit after System.CommandLine's termination timeout would cut short.
return await PlatformCommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
