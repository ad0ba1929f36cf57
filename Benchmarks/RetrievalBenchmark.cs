using System.Diagnostics;
using Platform.Model;
using Platform.Model.Evaluation.Checkpoints;
using Platform.Model.Evaluation.Retrieval;
using static TorchSharp.torch;

namespace Platform.Benchmarks;

/// <summary>Seconds of one round: the same pairs scored by the batched pair scorer and by the per-image baseline.</summary>
public sealed record RetrievalRound(double BatchedSeconds, double PerImageSeconds);

/// <summary>Result of `platform bench retrieval`: image-caption pairs scored per second by each way, and whether they agree.</summary>
public sealed record RetrievalBenchmarkResult(
    int Images, int Captions, int CaptionsPerPass, int ImagesPerPass, int Threads, double MeanCaptionTokens, double LargestScoreDifference, bool SameRanks,
    IReadOnlyList<RetrievalRound> Rounds)
{
    public long Pairs => (long)Images * Captions;

    public double BatchedPairsPerSecond => Pairs / BenchmarkStatistics.Median(Rounds.Select(r => r.BatchedSeconds));

    public double PerImagePairsPerSecond => Pairs / BenchmarkStatistics.Median(Rounds.Select(r => r.PerImageSeconds));

    /// <summary>Batched over per-image pairs per second, medians of the rounds.</summary>
    public double Speedup => BatchedPairsPerSecond / PerImagePairsPerSecond;

    /// <summary>Seconds the batched scorer would take for <paramref name="images"/> x <paramref name="captions"/> at the measured rate.</summary>
    public double ProjectedSeconds(int images, int captions) => (double)images * captions / BatchedPairsPerSecond;
}

/// <summary>
/// Retrieval's scoring of every image against every caption, with one random-initialised model and random images and
/// captions: <see cref="TextLikelihood.PairScores"/> (captions longest first, many images per decoder pass, only real
/// tokens through the output layer) against the per-image baseline it replaced (<see cref="TextLikelihood.TokenLogLikelihoods"/>:
/// one image's encoder output expanded over each batch of captions, the softmax over every padded position), after a
/// warm-up round that is not counted; the two alternate so that load on the machine falls on both alike.
/// </summary>
public static class RetrievalBenchmark
{
    public static RetrievalBenchmarkResult Run(SimVlmConfig config, int images = 40, int captionsPerImage = 5, int captionsPerPass = 32, int rounds = 3,
        int threads = 0, long seed = 1)
    {
        if (images < 1 || captionsPerImage < 1 || captionsPerPass < 1 || rounds < 1) throw new ArgumentException("Images, captions per image, captions per pass and rounds must be positive.");
        if (threads > 0) set_num_threads(threads);
        // The model's own stream, not libtorch's default generator: a run training in the same process holds that one.
        using var model = new SimVlmModel(config, new TorchRandomStream((ulong)seed));
        model.eval();
        var random = new DeterministicRandom((ulong)seed);
        var pixels = Enumerable.Range(0, images)
            .Select(_ => Enumerable.Range(0, 3 * config.ImageSize * config.ImageSize).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
        // Caption lengths as COCO's tokenize: 8 to 20 tokens, end-of-text last.
        int longest = Math.Min(20, config.MaxTextLength - 1);
        var captions = Enumerable.Range(0, images * captionsPerImage)
            .Select(_ => Enumerable.Range(0, random.Next(Math.Min(8, longest), longest + 1)).Select(_ => random.Next(SpecialTokens.Count, config.VocabSize))
                .Append(SpecialTokens.Eos).ToArray()).ToArray();
        int[] captionImage = Enumerable.Range(0, captions.Length).Select(c => c / captionsPerImage).ToArray();

        double[,] Batched() => TextLikelihood.PairScores(model, pixels, captions, captionsPerPass, PairScoring.MeanLogLikelihood);
        double[,] PerImage()
        {
            var likelihoods = TextLikelihood.TokenLogLikelihoods(model, pixels, captions, captionsPerPass);
            return GenerativePairScore.Matrix(images, captions.Length, (i, t) => likelihoods[i][t], PairScoring.MeanLogLikelihood);
        }
        static double Seconds(Func<double[,]> score)
        {
            var clock = Stopwatch.StartNew();
            score();
            return clock.Elapsed.TotalSeconds;
        }

        var batched = Batched();
        var perImage = PerImage();
        double largest = 0;
        for (int i = 0; i < images; i++)
            for (int t = 0; t < captions.Length; t++)
                largest = Math.Max(largest, Math.Abs(batched[i, t] - perImage[i, t]));
        bool sameRanks = RetrievalRecall.ImageToTextRanks(batched, captionImage).SequenceEqual(RetrievalRecall.ImageToTextRanks(perImage, captionImage))
            && RetrievalRecall.TextToImageRanks(batched, captionImage).SequenceEqual(RetrievalRecall.TextToImageRanks(perImage, captionImage));
        var measured = new List<RetrievalRound>();
        for (int round = 0; round < rounds; round++)
        {
            // Alternate which goes first, so that neither always follows the other's cache-warm memory.
            double first = Seconds(round % 2 == 0 ? Batched : PerImage);
            double second = Seconds(round % 2 == 0 ? PerImage : Batched);
            measured.Add(round % 2 == 0 ? new RetrievalRound(first, second) : new RetrievalRound(second, first));
        }
        return new RetrievalBenchmarkResult(images, captions.Length, captionsPerPass, TextLikelihood.ImagesPerPass(captionsPerPass), get_num_threads(),
            captions.Average(c => c.Length), largest, sameRanks, measured);
    }
}
