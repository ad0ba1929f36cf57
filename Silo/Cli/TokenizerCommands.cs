using System.CommandLine;
using System.Globalization;
using Platform.Datasets;
using Platform.Model;
using Platform.Model.Training;

namespace Platform.Silo.Cli;

/// <summary>`platform tokenizer train`: a subword vocabulary trained on a corpus, for runs to reference with `--tokenizer sentencepiece:FILE`.</summary>
public static class TokenizerCommands
{
    public static Command Create()
    {
        var tokenizer = new Command("tokenizer", "Subword vocabularies for training runs.");
        tokenizer.Subcommands.Add(CreateTrain());
        return tokenizer;
    }

    private static Command CreateTrain()
    {
        var defaults = new SubwordTrainingOptions();
        var data = new Option<string[]>("--data") { Description = "WebDataset shards (.tar) whose captions are the corpus.", AllowMultipleArgumentsPerToken = true };
        var dataset = new Option<string>("--dataset") { Description = "Instead of --data: a dataset's name; its committed shards are the corpus (storage settings as for `platform train`)." };
        var text = new Option<string[]>("--text") { Description = "Text-only documents (JSON lines with a \"text\" field) added to the corpus.", AllowMultipleArgumentsPerToken = true };
        var vocab = new Option<int>("--vocab") { Description = "Pieces in all, the 3 special and 256 byte pieces included (the paper's size: 32000; smaller for tiny).", Required = true };
        var output = new Option<string>("--out") { Description = "The SentencePiece model file to write (.model).", Required = true };
        var maxTexts = new Option<int>("--max-texts") { Description = "Texts trained on at most; a larger corpus is sampled uniformly.", DefaultValueFactory = _ => defaults.MaxTexts };
        var coverage = new Option<double>("--character-coverage") { Description = "Share of character occurrences given pieces of their own; rarer characters are spelled in bytes.", DefaultValueFactory = _ => defaults.CharacterCoverage };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the corpus sample.", DefaultValueFactory = _ => defaults.Seed };

        var command = new Command("train", "Train a SentencePiece BPE vocabulary with byte fallback on a corpus; runs use it with `--tokenizer sentencepiece:FILE`.");
        foreach (var option in new Option[] { data, dataset, text, vocab, output, maxTexts, coverage, seed }) command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var files = result.GetValue(data) is { Length: > 0 } given ? given : null;
            var name = result.GetValue(dataset);
            if ((files is null) == (name is null))
            {
                Console.Error.WriteLine("tokenizer train: give exactly one of --data (shard files) and --dataset (a dataset's name).");
                return CommandInputErrors.ExitCode;
            }
            var shards = files?.Select(DatasetShard.File).ToList() ?? await ModelCommands.CommittedShardsAsync(name!, cancellationToken);
            if (shards is null) return CommandInputErrors.ExitCode;
            string path = result.GetValue(output)!;
            try
            {
                var options = new SubwordTrainingOptions
                {
                    VocabSize = result.GetValue(vocab),
                    MaxTexts = result.GetValue(maxTexts),
                    CharacterCoverage = result.GetValue(coverage),
                    Seed = result.GetValue(seed),
                }.Validate();
                var corpus = ShardPrefixLmData.ReadAllTexts(shards, result.GetValue(text) ?? []);
                var model = SentencePieceBpeTrainer.Train(corpus, options, new ProgressBar());
                byte[] bytes = model.ToBytes();
                // The file must load where runs will load it; a failure here is the platform's, not the corpus's.
                var check = TextTokenizer.FromByteFallbackSentencePiece(bytes);
                string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
                if (folder is not null) Directory.CreateDirectory(folder);
                await File.WriteAllBytesAsync(path, bytes, cancellationToken);
                int characters = model.Pieces.Count(p => p.Type == SentencePieceType.Normal && p.Piece.EnumerateRunes().Count() == 1);
                int merged = model.Pieces.Count(p => p.Type == SentencePieceType.Normal) - characters;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"pieces={model.Pieces.Count} characters={characters} merged={merged} model_vocabulary={check.VocabSize} out={path}"));
                Console.WriteLine($"use it: platform train --tokenizer {TextTokenizer.SentencePiece}:{path} ...");
                return 0;
            }
            catch (Exception e) when (CommandInputErrors.IsInputError(e) || e is IOException)
            {
                return CommandInputErrors.Report("tokenizer train", e);
            }
        });
        return command;
    }

    /// <summary>Training progress on stderr: a bar redrawn in place on a terminal, a line per tenth when redirected.</summary>
    private sealed class ProgressBar : IProgress<SubwordTrainingProgress>
    {
        private int lastTenth = -1;

        public void Report(SubwordTrainingProgress value)
        {
            switch (value.Stage)
            {
                case SubwordTrainingStage.Reading:
                    if (!Console.IsErrorRedirected) Console.Error.Write($"\rreading texts: {value.Done:N0}");
                    break;
                case SubwordTrainingStage.Read:
                    Console.Error.WriteLine($"{(Console.IsErrorRedirected ? "" : "\r")}read {value.Done:N0} texts, training on {value.Total:N0}{(value.Done > value.Total ? " (a sample)" : "")}");
                    break;
                case SubwordTrainingStage.Merging when value.Total > 0:
                    double share = (double)value.Done / value.Total;
                    if (!Console.IsErrorRedirected)
                    {
                        int filled = (int)(share * 40);
                        Console.Error.Write($"\rmerging [{new string('#', filled)}{new string('.', 40 - filled)}] {value.Done:N0}/{value.Total:N0}");
                    }
                    else if ((int)(share * 10) > lastTenth)
                    {
                        lastTenth = (int)(share * 10);
                        Console.Error.WriteLine($"merging {value.Done:N0}/{value.Total:N0}");
                    }
                    break;
                case SubwordTrainingStage.Merged:
                    Console.Error.WriteLine($"{(Console.IsErrorRedirected ? "" : "\r")}merged {value.Done:N0} pieces{(value.Done < value.Total ? $" (the corpus had no pair seen twice for the other {value.Total - value.Done:N0})" : "")}");
                    break;
            }
        }
    }
}
