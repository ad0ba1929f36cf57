using System.Diagnostics;
using Microsoft.ML.Tokenizers;
using Platform.Model;

namespace Platform.Benchmarks;

/// <summary>Seconds of one round: the same texts encoded by the platform's encoder and by Microsoft.ML.Tokenizers'.</summary>
public sealed record TokenizerRound(double OursSeconds, double MlNetSeconds);

/// <summary>Result of `platform bench tokenizer`.</summary>
public sealed record TokenizerBenchmarkResult(
    int VocabSize, int Texts, long Characters, long Tokens, bool SameIds, IReadOnlyList<TokenizerRound> Rounds)
{
    public double OursTokensPerSecond => Tokens / BenchmarkStatistics.Median(Rounds.Select(r => r.OursSeconds));

    public double MlNetTokensPerSecond => Tokens / BenchmarkStatistics.Median(Rounds.Select(r => r.MlNetSeconds));

    /// <summary>Our tokens per second over Microsoft.ML.Tokenizers', medians of the rounds.</summary>
    public double Ratio => OursTokensPerSecond / MlNetTokensPerSecond;
}

/// <summary>
/// Trains a vocabulary on one sample of generated web text, then encodes another sample with the platform's
/// tokenizer (<see cref="TextTokenizer.Encode"/>, what training calls) and with Microsoft.ML.Tokenizers'
/// SentencePiece encoder loaded from the same model file. Every round starts the platform's tokenizer afresh, so its
/// word cache starts empty and fills only from the texts being timed; the two alternate so that load on the machine
/// falls on both alike, after a warm-up round that is not counted. The ids of the two are compared on every text.
/// </summary>
public static class TokenizerBenchmark
{
    public static TokenizerBenchmarkResult Run(int vocabSize = 8_000, int trainingTexts = 50_000, int texts = 20_000, int rounds = 5, ulong seed = 1)
    {
        var model = SentencePieceBpeTrainer.Train(WebTextGenerator.Texts(seed, trainingTexts), new SubwordTrainingOptions { VocabSize = vocabSize, Seed = seed });
        byte[] file = model.ToBytes();
        var mlNet = SentencePieceTokenizer.Create(new MemoryStream(file, writable: false), addBeginningOfSentence: false, addEndOfSentence: false);
        string[] sample = [.. WebTextGenerator.Texts(seed + 1, texts)];

        var check = TextTokenizer.FromByteFallbackSentencePiece(file);
        if (!check.UsesOwnEncoder) throw new InvalidOperationException("The trained model is not one the platform's encoder reproduces; the benchmark would time Microsoft.ML.Tokenizers twice.");
        bool same = true;
        long tokens = 0;
        foreach (var text in sample)
        {
            var theirs = mlNet.EncodeToIds(text);
            var ours = check.Encode(text);
            tokens += theirs.Count;
            same &= ours.Length - 1 == theirs.Count && theirs.Select((id, i) => check.BaseIds[ours[i] - SpecialTokens.Count] == id).All(x => x);
        }

        var measured = new List<TokenizerRound>();
        for (int round = 0; round <= rounds; round++)
        {
            var ours = TextTokenizer.FromByteFallbackSentencePiece(file);
            var clock = Stopwatch.StartNew();
            foreach (var text in sample) ours.Encode(text);
            double oursSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            foreach (var text in sample) mlNet.EncodeToIds(text);
            double mlNetSeconds = clock.Elapsed.TotalSeconds;
            if (round > 0) measured.Add(new TokenizerRound(oursSeconds, mlNetSeconds));
        }
        return new TokenizerBenchmarkResult(model.Pieces.Count, sample.Length, sample.Sum(t => (long)t.Length), tokens, same, measured);
    }
}
