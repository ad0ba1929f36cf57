using System.CommandLine;
using Platform.Grains.Ingestion;
using Platform.Silo.Hosting;
using Platform.Silo.Jobs;

namespace Platform.Silo.Cli;

/// <summary>`platform ingest submit` and `platform ingest status`: distributed extraction on a running platform.</summary>
public static class IngestClusterCommands
{
    /// <summary>Adds the cluster commands to the `ingest` command and returns it.</summary>
    public static Command AddTo(Command ingest)
    {
        ingest.Subcommands.Add(CreateSubmit());
        ingest.Subcommands.Add(CreateStatus());
        return ingest;
    }

    private static Command CreateSubmit()
    {
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "WARC/WAT files and URL lists, on storage every silo can read; one work unit each.",
            Arity = ArgumentArity.OneOrMore,
        };
        var dataset = new Option<string>("--dataset") { Description = "Target dataset name, recorded with the job.", Required = true };
        var output = new Option<string>("--out") { Description = "Output directory (on storage every silo can write).", Required = true };
        var job = new Option<string>("--job") { Description = "Job id (default: derived from the inputs, output and dataset, so a repeated submit finds the same job)." };
        var maxImagesPerAlt = new Option<int>("--max-images-per-alt") { Description = "Drop alt texts shared by more images (ALIGN: 10).", DefaultValueFactory = _ => 10 };
        var maxAltsPerImage = new Option<int>("--max-alts-per-image") { Description = "Drop images with more alt texts (ALIGN: 1000).", DefaultValueFactory = _ => 1000 };
        var noText = new Option<bool>("--no-text") { Description = "Skip the cleaned page text." };

        var command = new Command("submit", "Start a distributed extraction on the running platform and print its job id.");
        command.Arguments.Add(inputs);
        foreach (var option in new Option[] { dataset, output, job, maxImagesPerAlt, maxAltsPerImage, noText }) command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var files = result.GetValue(inputs)!.Select(Path.GetFullPath).ToArray();
            var missing = files.Where(f => !File.Exists(f)).ToList();
            if (missing.Count > 0)
            {
                Console.Error.WriteLine("Input not found: " + string.Join(", ", missing));
                return 2;
            }
            var outDir = Path.GetFullPath(result.GetValue(output)!);
            var name = result.GetValue(dataset)!;
            var jobId = result.GetValue(job) ?? IngestSubmitJob.JobIdFor(files, outDir, name);
            var settings = new IngestJobSettings
            {
                MaxImagesPerAltText = result.GetValue(maxImagesPerAlt),
                MaxAltTextsPerImage = result.GetValue(maxAltsPerImage),
                ExtractText = !result.GetValue(noText),
            };
            return await WithClientAsync(async grains =>
            {
                var status = await grains.GetGrain<IIngestJobGrain>(jobId).Submit(new IngestJobRequest(files, outDir, settings, name));
                Console.WriteLine(jobId);
                Console.Error.WriteLine(Describe(status));
                return 0;
            }, cancellationToken);
        });
        return command;
    }

    private static Command CreateStatus()
    {
        var job = new Argument<string>("job") { Description = "Job id printed by `ingest submit`." };
        var command = new Command("status", "Print the progress of a distributed extraction.");
        command.Arguments.Add(job);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
            await WithClientAsync(async grains =>
            {
                var status = await grains.GetGrain<IIngestJobGrain>(result.GetValue(job)!).GetStatus();
                if (status.Phase == IngestJobPhase.NotSubmitted)
                {
                    Console.Error.WriteLine($"No ingest job '{status.JobId}'.");
                    return 1;
                }
                Console.WriteLine(Describe(status));
                foreach (var unit in status.Units.Where(u => u.State != WorkUnitState.Done || u.LastError is not null))
                    Console.WriteLine($"  unit {unit.Index} {unit.State} attempt {unit.Attempt} on {unit.Worker ?? "-"}: {unit.Input}{(unit.LastError is null ? "" : " (" + unit.LastError + ")")}");
                return status.Phase == IngestJobPhase.Failed ? 1 : 0;
            }, cancellationToken));
        return command;
    }

    public static string Describe(IngestJobStatus status) =>
        $"{status.JobId}: {status.Phase}, {status.UnitsDone}/{status.Units.Count} units done, {status.Restarts} restarts, " +
        $"{status.InputBytesDone / 1e6:F1} MB, {status.Pages} pages, {status.PairsPassed} pairs passed the per-pair filters" +
        (status.Phase == IngestJobPhase.Completed ? $", {status.PairsKept} kept" : "") +
        (status.Error is null ? "" : $"; error: {status.Error}");

    internal static async Task<int> WithClientAsync(Func<IGrainFactory, Task<int>> action, CancellationToken cancellationToken)
    {
        var source = new ConfigurationBuilder();
        PlatformConfiguration.AddSources(source);
        PlatformConfiguration configuration;
        try
        {
            configuration = PlatformConfiguration.Load(source.Build());
        }
        catch (PlatformConfigurationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        await using var client = await PlatformClient.ConnectAsync(configuration, cancellationToken);
        return await action(client.Grains);
    }
}
