using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Platform.Datasets;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Text;
using Spectre.Console;
using Platform.Ingestion.Stages;

namespace Platform.Silo.Cli;

/// <summary>`platform ingest run`: web dumps to WebDataset shards in one process, with the funnel at the end.</summary>
public static class IngestRunCommand
{
    public const string ConnectionEnvironmentVariable = "PLATFORM_Storage__ConnectionString";

    public static Command Create()
    {
        var inputs = IngestCommands.DumpsArgument();
        var output = new Option<string>("--out")
        {
            Description = "Dataset folder, or a blob container as http(s)://account-endpoint/container[/prefix].",
            Required = true,
        };
        var connection = new Option<string?>("--storage-connection")
        {
            Description = $"Storage connection string for a blob --out (default: ${ConnectionEnvironmentVariable}).",
        };
        var shared = new IngestSettingsOptions();
        var parallelism = new Option<int>("--parallelism") { Description = "Downloads and decodes in flight.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var workDirectory = new Option<string?>("--work-dir") { Description = "Folder for the spool of extraction, in a subfolder per job (default: the temp folder)." };

        var command = new Command("run", "Extract pairs from dumps and write WebDataset shards (images from the dump or the web) in one go; reruns resume.");
        command.Arguments.Add(inputs);
        foreach (var option in new Option[] { output, connection, shared.Lang, shared.SamplesPerShard, parallelism, workDirectory, shared.NoLangDetect })
            command.Options.Add(option);

        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var allowed = shared.AllowedLanguages(result);
            var options = new IngestRunOptions
            {
                Extraction = new ExtractionOptions
                {
                    AltText = new AltTextFilterOptions { Languages = allowed },
                    Text = new TextCleaningOptions { Languages = allowed },
                },
                Shards = new ShardWriterOptions { SamplesPerShard = result.GetValue(shared.SamplesPerShard), MaxParallelism = result.GetValue(parallelism) },
                WorkDirectory = result.GetValue(workDirectory),
                DetectLanguage = shared.DetectLanguage(result),
            };
            var files = result.GetValue(inputs)!;
            var target = result.GetValue(output)!;
            IDatasetStore store;
            try
            {
                store = await DatasetTarget.OpenAsync(target, result.GetValue(connection) ?? Environment.GetEnvironmentVariable(ConnectionEnvironmentVariable),
                    cancellationToken);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or Azure.RequestFailedException or HttpRequestException)
            {
                Console.Error.WriteLine(SecretRedaction.RedactUrlsIn(e.Message));
                return 2;
            }

            var clock = Stopwatch.StartNew();
            IngestRunSummary summary;
            try
            {
                summary = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive
                    ? await RunWithBarsAsync(files, store, options, cancellationToken)
                    : await RunWithLinesAsync(files, store, options, clock, cancellationToken);
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
            {
                Console.Error.WriteLine(SecretRedaction.RedactUrlsIn(e.Message));
                return 2;
            }
            AnsiConsole.Write(FunnelTable(summary.Funnel));
            var samples = summary.Funnel.Stage(FunnelStage.ShardStage);
            Console.WriteLine($"job {summary.JobId}: {summary.Pages} pages, {samples.Passed} of {samples.In} pairs in {summary.ShardCount} shards " +
                $"({summary.Shards.ShardsWritten} written now, {summary.Shards.ShardsAlreadyCommitted} committed before) in {clock.Elapsed.TotalSeconds:F1} s; " +
                $"{FunnelStage.FunnelFileName(summary.JobId)} and {FunnelStage.TextFileName(summary.JobId)} in {SecretRedaction.RedactUrl(store.Location)}");
            return 0;
        });
        return command;
    }

    private static Task<IngestRunSummary> RunWithBarsAsync(string[] files, IDatasetStore store, IngestRunOptions options, CancellationToken cancellationToken) =>
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var extract = context.AddTask("extracting");
                var images = context.AddTask("images", autoStart: false);
                var progress = new InlineProgress<IngestRunProgress>(p =>
                {
                    var task = p.Phase == IngestRun.ExtractPhase ? extract : images;
                    if (!task.IsStarted) task.StartTask();
                    task.MaxValue = Math.Max(p.Total, 1);
                    task.Value = p.Done;
                    task.Description = $"{p.Phase}: {p.Detail}";
                });
                return await Task.Run(() => IngestRun.RunAsync(files, store, options, progress, cancellationToken), cancellationToken);
            });

    private static Task<IngestRunSummary> RunWithLinesAsync(string[] files, IDatasetStore store, IngestRunOptions options, Stopwatch clock,
        CancellationToken cancellationToken)
    {
        var last = TimeSpan.Zero;
        var progress = new InlineProgress<IngestRunProgress>(p =>
        {
            lock (clock)
            {
                if (p.Done < p.Total && clock.Elapsed - last < TimeSpan.FromSeconds(2)) return;
                last = clock.Elapsed;
                Console.WriteLine($"{p.Phase} {p.Done * 100.0 / Math.Max(p.Total, 1):F1}% ({p.Done}/{p.Total}) {p.Detail}");
            }
        });
        return IngestRun.RunAsync(files, store, options, progress, cancellationToken);
    }

    /// <summary>One row per stage (in, passed, pass rate), then its rejections by reason with their share of what entered the stage.</summary>
    public static Table FunnelTable(FunnelStats funnel)
    {
        var table = new Table().Title("funnel").AddColumn("stage").AddColumn("rejected for")
            .AddColumn(new TableColumn("in").RightAligned()).AddColumn(new TableColumn("passed / rejected").RightAligned())
            .AddColumn(new TableColumn("rate").RightAligned());
        foreach (var name in funnel.StageNames)
        {
            var stage = funnel.Stage(name);
            table.AddRow(Markup.Escape(name), "", Count(stage.In), Count(stage.Passed), Rate(stage.Passed, stage.In));
            foreach (var (reason, count) in stage.Rejected.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal))
                table.AddRow("", Markup.Escape(reason), "", Count(count), Rate(count, stage.In));
        }
        return table;
    }

    private static string Count(long count) => count.ToString("N0", CultureInfo.InvariantCulture);

    private static string Rate(long count, long of) => of == 0 ? "-" : (count / (double)of).ToString("P1", CultureInfo.InvariantCulture);
}
