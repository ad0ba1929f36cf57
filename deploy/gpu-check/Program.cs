using System.CommandLine;
using Platform.Benchmarks;
using Platform.GpuCheck;

// Signals are left to the benchmarks, as in the platform's own command line.
var root = new RootCommand("The platform's model benchmarks alone, for a GPU machine without the .NET SDK (deploy/gpu/bundle.sh).");
root.Subcommands.Add(ProbeCommand.Create());
var bench = new Command("bench", "`platform bench train` and `platform bench decode`, the same code.");
bench.Subcommands.Add(BenchTrainCommand.Create());
bench.Subcommands.Add(BenchDecodeCommand.Create());
root.Subcommands.Add(bench);
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
