using System.CommandLine;
using Platform.Datasets;
using Platform.Grains.Ingestion;
using Platform.Silo.Hosting;

namespace Platform.Silo.Cli;

/// <summary>`platform ingest submit` and `platform ingest status`: distributed ingestion (extraction, then the dataset's shards) on a running platform.</summary>
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
            Description = "WARC/WAT files and URL lists, on storage every silo can read, or blobs as http(s)://account-endpoint/container/name in the platform's " +
                "storage account (a container or prefix URL stands for every dump blob under it, in name order); a big one is split into several work units (--unit-mb).",
            Arity = ArgumentArity.OneOrMore,
        };
        var dataset = new Option<string>("--dataset") { Description = "Dataset the job's shards are committed to (files under OUT/dataset unless --dataset-location says otherwise).", Required = true };
        var location = new Option<string?>("--dataset-location")
        {
            Description = "Where the dataset's files go: a folder every silo can write, or a blob container as http(s)://account-endpoint/container[/prefix] " +
                "in the platform's storage account (Storage:ConnectionString), as `ingest run --out` takes it. Default: OUT/dataset.",
        };
        var output = new Option<string>("--out") { Description = "Output directory (on storage every silo can write).", Required = true };
        var job = new Option<string>("--job") { Description = "Job id (default: derived from the inputs, output and dataset, so a repeated submit finds the same job)." };
        var shared = new IngestSettingsOptions();
        shared.SamplesPerShard.Description = "Samples attempted per shard (as `ingest run`).";
        shared.Lang.Description = "Allowed languages, comma separated, or 'off' (as `ingest run`).";
        var unitMb = new Option<int>("--unit-mb")
        {
            Description = "Split inputs larger than this many MiB into work units of about this size, at record or row boundaries, so one big dump spreads over the silos.",
            DefaultValueFactory = _ => (int)(IngestJobSettings.DefaultUnitBytes >> 20),
        };

        var command = new Command("submit", "Start a distributed ingestion on the running platform and print its job id.");
        command.Arguments.Add(inputs);
        foreach (var option in new Option[] { dataset, location, output, job, shared.MaxImagesPerAlt, shared.MaxAltsPerImage, shared.NoText, shared.SamplesPerShard, shared.Lang, shared.NoLangDetect, unitMb }) command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            if (result.GetValue(unitMb) < 1)
            {
                Console.Error.WriteLine("--unit-mb must be at least 1.");
                return 2;
            }
            var settings = shared.JobSettings(result) with { UnitBytes = (long)result.GetValue(unitMb) << 20 };
            var (jobId, request, problems) = IngestSubmissions.FromClient(result.GetValue(job), result.GetValue(inputs), result.GetValue(output), settings,
                result.GetValue(dataset), result.GetValue(location), Environment.CurrentDirectory);
            if (problems.Count > 0)
            {
                foreach (var problem in problems) Console.Error.WriteLine(problem.Message);
                return 2;
            }
            return await WithClientAsync(async grains =>
            {
                IngestJobStatus status;
                try
                {
                    status = await grains.GetGrain<IIngestJobGrain>(jobId).Submit(request);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or FileNotFoundException or Azure.RequestFailedException)
                {
                    // A blob input or dataset location the silos' storage account cannot open, or a job id taken by another job.
                    Console.Error.WriteLine(e.Message);
                    return 2;
                }
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
        var command = new Command("status", "Print the progress of a distributed ingestion.");
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
                foreach (var shard in status.Shards?.Running ?? [])
                    Console.WriteLine($"  {shard.Input} {shard.State} attempt {shard.Attempt} on {shard.Worker ?? "-"}{(shard.LastError is null ? "" : " (" + shard.LastError + ")")}");
                return status.Phase == IngestJobPhase.Failed ? 1 : 0;
            }, cancellationToken));
        return command;
    }

    public static string Describe(IngestJobStatus status) =>
        $"{status.JobId}: {status.Phase}, {status.UnitsDone}/{status.Units.Count} units done, {status.Restarts} restarts, " +
        $"{status.InputBytesDone / 1e6:F1} MB, {status.Pages} pages, {status.PairsPassed} pairs passed the per-pair filters" +
        (status.Phase is IngestJobPhase.Completed or IngestJobPhase.FetchingShards or IngestJobPhase.Deduping or IngestJobPhase.WritingShards ? $", {status.PairsKept} kept" : "") +
        (status.Shards is { } shards
            ? $"; shards: {shards.ShardsFetched}/{shards.ShardCount} fetched, {shards.ShardsCommitted}/{shards.ShardCount} committed, {shards.SamplesStored}/{shards.SamplesAttempted} samples stored, {shards.Restarts} restarts"
            : "") +
        (status.Error is null ? "" : $"; error: {status.Error}");

    internal static Task<int> WithClientAsync(Func<IGrainFactory, Task<int>> action, CancellationToken cancellationToken) =>
        WithClientAsync((grains, _) => action(grains), cancellationToken);

    /// <summary>Runs <paramref name="action"/> with a client of the running platform and the settings that found it (storage for manifests).</summary>
    internal static async Task<int> WithClientAsync(Func<IGrainFactory, PlatformConfiguration, Task<int>> action, CancellationToken cancellationToken)
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
        PlatformClient client;
        try
        {
            client = await PlatformClient.ConnectAsync(configuration, cancellationToken);
        }
        catch (PlatformUnreachableException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        await using (client) return await action(client.Grains, configuration);
    }
}
