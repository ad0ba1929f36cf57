using System.CommandLine;
using Platform.Model.Evaluation.Benchmark;

namespace Platform.Silo.Cli;

/// <summary>`platform benchmark-data`: writes the offline captioning / VQA / retrieval benchmark.</summary>
public static class BenchmarkDataCommand
{
    public static Command Create()
    {
        var defaults = new BenchmarkOptions();
        var output = new Option<string>("--out") { Description = "Folder to write images/ and annotations/ into.", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed; the same seed gives byte-identical files.", DefaultValueFactory = _ => defaults.Seed };
        var images = new Option<int>("--images") { Description = "Images over the train/val/test splits.", DefaultValueFactory = _ => defaults.Images };
        var imageSize = new Option<int>("--image-size") { Description = "Side of the square images in pixels.", DefaultValueFactory = _ => defaults.ImageSize };
        var vocabulary = new Option<string>("--vocabulary") { Description = "JSON vocabulary file (colours with RGB, shapes, sizes); default: six colours, five shapes, small/large." };

        var command = new Command("benchmark-data", "Generate an offline benchmark of rendered shape scenes in the COCO captions, VQAv2, Karpathy-split, SNLI-VE, NLVR2 and NoCaps formats.");
        foreach (var option in new Option[] { output, seed, images, imageSize, vocabulary })
            command.Options.Add(option);

        command.SetAction((ParseResult r, CancellationToken ct) =>
        {
            try
            {
                if (File.Exists(r.GetValue(output)))
                    throw new IOException($"--out {r.GetValue(output)} is a file: give a folder (new or empty) for images/ and annotations/.");
                var options = defaults with { Seed = r.GetValue(seed), Images = r.GetValue(images), ImageSize = r.GetValue(imageSize) };
                if (r.GetValue(vocabulary) is { } vocabularyPath)
                    options = options with { Vocabulary = BenchmarkVocabulary.Load(vocabularyPath) };
                var summary = BenchmarkGenerator.Generate(r.GetValue(output)!, options, ct);
                Console.Out.WriteLine(
                    $"Wrote {string.Join(", ", summary.ImagesPerSplit.Select(p => $"{p.Value} {p.Key}"))} images, " +
                    $"{summary.Captions} captions, {summary.Questions} questions ({summary.QuestionsWithDisagreement} with disagreeing answers), " +
                    $"{summary.Tasks!.EntailmentPairs} SNLI-VE pairs, {summary.Tasks.Nlvr2Statements} NLVR2 statements, {summary.Tasks.NoCapsImages} NoCaps images to {r.GetValue(output)}");
                return Task.FromResult(0);
            }
            catch (Exception e) when (e is IOException || CommandInputErrors.IsInputError(e))
            {
                return Task.FromResult(CommandInputErrors.Report("benchmark-data", e));
            }
        });
        return command;
    }
}
