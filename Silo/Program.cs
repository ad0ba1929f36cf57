using Platform.Silo.Cli;

return await PlatformCommandLine.Build().Parse(args).InvokeAsync();
