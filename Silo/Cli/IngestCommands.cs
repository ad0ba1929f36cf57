using System.CommandLine;
using System.Diagnostics;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Sources;
using Platform.Ingestion.Text;
using Platform.Ingestion.Warc;
using Spectre.Console;

namespace Platform.Silo.Cli;

/// <summary>`platform ingest ...`: the data pipeline's commands.</summary>
public static class IngestCommands
{
    public static Command Create()
    {
        var ingest = new Command("ingest", "Read web dumps and URL lists into image/alt-text candidates and cleaned text.");
        ingest.Subcommands.Add(CreateExtract());
        ingest.Subcommands.Add(IngestRunCommand.Create());
        return ingest;
    }

    /// <summary>The dumps `ingest extract` and `ingest run` read.</summary>
    internal static Argument<string[]> DumpsArgument() => new("inputs")
    {
        Description = "WARC or WAT files (.warc, .warc.gz, .wat.gz) and URL lists (.tsv, .csv, .jsonl, .parquet).",
        Arity = ArgumentArity.OneOrMore,
    };

    private static Command CreateExtract()
    {
        var inputs = DumpsArgument();
        var output = new Option<string>("--out") { Description = "Output directory.", Required = true };
        var shared = new IngestSettingsOptions();
        shared.NoText.Description = "Skip the cleaned page text (text.jsonl stays empty).";
        shared.NoLangDetect.Description = "Leave pages that declare no language (lang, Content-Language) undetected instead of identifying it from their text.";
        var minWords = new Option<int>("--min-words") { Description = "Fewest alt-text words (ALIGN: 3).", DefaultValueFactory = _ => 3 };
        var maxWords = new Option<int>("--max-words") { Description = "Most alt-text words (ALIGN: 20).", DefaultValueFactory = _ => 20 };
        var minChars = new Option<int>("--min-chars") { Description = "Fewest alt-text characters (LAION: 5).", DefaultValueFactory = _ => 5 };
        var ignoreOptOut = new Option<bool>("--ignore-opt-out") { Description = "Do not honour noai/noimageai/noindex/noimageindex (not recommended)." };
        var maxRecordMb = new Option<int>("--max-record-mb") { Description = "Skip WARC records larger than this (bounds memory).", DefaultValueFactory = _ => 16 };
        var urlColumn = new Option<string>("--url-column") { Description = "URL column of URL lists.", DefaultValueFactory = _ => "url" };
        var captionColumn = new Option<string>("--caption-column") { Description = "Caption column of URL lists.", DefaultValueFactory = _ => "caption" };

        var command = new Command("extract", "Extract image/alt-text candidates, cleaned text and a funnel of every rejection.");
        command.Arguments.Add(inputs);
        foreach (var option in new Option[] { output, shared.Lang, minWords, maxWords, minChars, shared.MaxImagesPerAlt, shared.MaxAltsPerImage, ignoreOptOut, shared.NoText, maxRecordMb, urlColumn, captionColumn, shared.NoLangDetect })
            command.Options.Add(option);

        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var allowed = shared.AllowedLanguages(result);
            var options = new ExtractionOptions
            {
                Warc = new WarcReaderOptions { MaxRecordBytes = result.GetValue(maxRecordMb) << 20 },
                AltText = new AltTextFilterOptions
                {
                    MinWords = result.GetValue(minWords),
                    MaxWords = result.GetValue(maxWords),
                    MinChars = result.GetValue(minChars),
                    Languages = allowed,
                    HonourOptOut = !result.GetValue(ignoreOptOut),
                },
                Frequency = shared.Frequency(result),
                Text = new TextCleaningOptions { Languages = allowed },
                ExtractText = shared.ExtractText(result),
            };
            var files = result.GetValue(inputs)!;
            var outDir = result.GetValue(output)!;
            var urlOptions = new UrlListOptions { UrlColumn = result.GetValue(urlColumn)!, CaptionColumn = result.GetValue(captionColumn)! };
            ILanguageDetector? detector = shared.DetectLanguage(result) ? LinguaLanguageDetector.ForAllowedLanguages(allowed) : null;
            var totalBytes = files.Where(File.Exists).Sum(f => new FileInfo(f).Length);
            var clock = Stopwatch.StartNew();
            string Rates(ExtractionProgress p) =>
                $"{p.BytesRead / 1e6 / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):F1} MB/s, {p.Pairs / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):F0} pairs/s, {p.Pages} pages";

            ExtractSummary summary;
            try
            {
                if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
                {
                    summary = await AnsiConsole.Progress()
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                        .StartAsync(async context =>
                        {
                            var task = context.AddTask("extracting", maxValue: Math.Max(totalBytes, 1));
                            var progress = new InlineProgress<ExtractionProgress>(p =>
                            {
                                task.Value = p.BytesRead;
                                task.Description = Rates(p);
                            });
                            var s = await Task.Run(() => ExtractCommandRunner.RunAsync(files, outDir, options, urlOptions, progress, detector, cancellationToken), cancellationToken);
                            task.Value = task.MaxValue;
                            return s;
                        });
                }
                else
                {
                    var last = TimeSpan.Zero;
                    var progress = new InlineProgress<ExtractionProgress>(p =>
                    {
                        if (clock.Elapsed - last < TimeSpan.FromSeconds(2)) return;
                        last = clock.Elapsed;
                        Console.WriteLine($"progress {p.BytesRead * 100.0 / Math.Max(totalBytes, 1):F1}% {Rates(p)} ({Path.GetFileName(p.Source)})");
                    });
                    summary = await ExtractCommandRunner.RunAsync(files, outDir, options, urlOptions, progress, detector, cancellationToken);
                }
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
            var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
            Console.WriteLine($"done: {summary.InputBytes / 1e6:F1} MB in {seconds:F1} s ({summary.InputBytes / 1e6 / seconds:F1} MB/s), " +
                $"{summary.Pages} pages, {summary.PairsKept} pairs kept, {summary.TextDocuments} text documents; funnel in {Path.Combine(outDir, "stats.json")}");
            return 0;
        });
        return command;
    }
}
