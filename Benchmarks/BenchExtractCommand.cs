using System.CommandLine;
using Platform.Ingestion.Text;

namespace Platform.Benchmarks;

/// <summary>`platform bench extract FILE`: extraction time against `gzip -dc FILE` on the same file.</summary>
public static class BenchExtractCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "A gzipped WARC file (per-record or whole-file gzip)." };
        var generate = new Option<int?>("--generate-mb")
        {
            Description = "First write an HTML-heavy synthetic WARC of about this many MB (compressed) to FILE, replacing it.",
        };
        var detectLanguage = new Option<bool>("--lang-detect")
        {
            Description = "Identify page and alt-text languages (Lingua) as ingestion does by default; without it the figure is the extraction alone.",
        };
        var command = new Command("extract", "Time extraction on a WARC against gzip -dc of the same file; the last line is extract_vs_gzip=<ratio>.");
        command.Arguments.Add(file);
        command.Options.Add(generate);
        command.Options.Add(detectLanguage);
        command.SetAction((ParseResult result, CancellationToken cancellationToken) =>
        {
            var path = result.GetValue(file)!;
            if (result.GetValue(generate) is { } mb)
            {
                if (mb < 1) throw new ArgumentException($"{generate.Name} must be 1 or more, not {mb}.");
                HtmlHeavyWarcGenerator.Write(path, mb * 1_000_000L);
                Console.WriteLine($"generated={path}");
            }
            if (!File.Exists(path)) throw new FileNotFoundException($"No such file: {path}; give a gzipped WARC file, or {generate.Name} N to write one of about N MB there.", path);
            foreach (var line in ExtractBenchmark.Run(path, cancellationToken: cancellationToken,
                         languageDetector: result.GetValue(detectLanguage) ? LinguaLanguageDetector.ForAllowedLanguages(["en"]) : null).Lines()) Console.WriteLine(line);
            return Task.FromResult(0);
        });
        return command;
    }
}
