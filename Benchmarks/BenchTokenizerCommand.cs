using System.CommandLine;
using System.Globalization;
using Platform.Model;

namespace Platform.Benchmarks;

/// <summary>`platform bench tokenizer`: tokens per second of the platform's encoder against Microsoft.ML.Tokenizers' on the same text and vocabulary; the last line is tokenizer_vs_mlnet=.</summary>
public static class BenchTokenizerCommand
{
    public static Command Create()
    {
        var vocab = new Option<int>("--vocab") { Description = "Pieces of the vocabulary trained for the benchmark.", DefaultValueFactory = _ => 8_000 };
        var trainingTexts = new Option<int>("--training-texts") { Description = "Generated web texts the vocabulary is trained on.", DefaultValueFactory = _ => 50_000 };
        var texts = new Option<int>("--texts") { Description = "Other generated web texts encoded each round.", DefaultValueFactory = _ => 20_000 };
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds (after one warm-up round); medians are reported.", DefaultValueFactory = _ => 5 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the generated texts.", DefaultValueFactory = _ => 1UL };
        var command = new Command("tokenizer", "Encoding speed of the platform's SentencePiece encoder against Microsoft.ML.Tokenizers' own, same trained vocabulary and texts.");
        foreach (var option in new Option[] { vocab, trainingTexts, texts, rounds, seed }) command.Options.Add(option);
        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            var b = TokenizerBenchmark.Run(result.AtLeast(vocab, SentencePieceBpeTrainer.FixedPieces + 1), result.AtLeast(trainingTexts, 1), result.AtLeast(texts, 1), result.AtLeast(rounds, 1), result.GetValue(seed));
            string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
            Console.WriteLine(Invariant($"vocabulary={b.VocabSize} texts={b.Texts} characters={b.Characters} tokens={b.Tokens}"));
            for (int i = 0; i < b.Rounds.Count; i++)
                Console.WriteLine(Invariant($"round={i + 1} ours_s={b.Rounds[i].OursSeconds:F4} mlnet_s={b.Rounds[i].MlNetSeconds:F4}"));
            Console.WriteLine(Invariant($"ours tokens/s={b.OursTokensPerSecond:F0} mlnet tokens/s={b.MlNetTokensPerSecond:F0} (medians)"));
            Console.WriteLine($"same_ids={(b.SameIds ? "true" : "false")}");
            Console.WriteLine(Invariant($"tokenizer_vs_mlnet={b.Ratio:F2}"));
            return Task.FromResult(b.SameIds ? 0 : 1);
        });
        return command;
    }
}
