using CsCheck;
using Platform.Model.Evaluation.Retrieval;

namespace Platform.Evaluation.Tests;

public class RetrievalTests
{
    [Fact]
    public void Recall_on_a_constructed_matrix_with_known_ranks()
    {
        // 12 images, 12 texts; text t describes image t. Image i ranks its own text at position i
        // (i texts score higher), so the image-to-text ranks are 0..11:
        //   R@1 = 1/12, R@5 = 5/12, R@10 = 10/12 (in %: 8.333, 41.667, 83.333).
        // Construction: row i gives its own text 50, the texts t < i 60 (exactly i of them beat it), all others 40.
        const int n = 12;
        var scores = new double[n, n];
        for (var i = 0; i < n; i++)
            for (var t = 0; t < n; t++)
                scores[i, t] = t == i ? 50 : t < i ? 60 : 40;
        var result = RetrievalRecall.Compute(scores, Enumerable.Range(0, n).ToArray());

        Assert.Equal(100.0 / 12, result.ImageToTextR1, 1e-9);
        Assert.Equal(500.0 / 12, result.ImageToTextR5, 1e-9);
        Assert.Equal(1000.0 / 12, result.ImageToTextR10, 1e-9);
        // Text-to-image: column t: image t scores 50; images i > t score 60 (since t < i); images i < t score 40.
        // So 11 - t images beat image t: ranks 11..0 -> same recalls 1/12, 5/12, 10/12.
        Assert.Equal(100.0 / 12, result.TextToImageR1, 1e-9);
        Assert.Equal(500.0 / 12, result.TextToImageR5, 1e-9);
        Assert.Equal(1000.0 / 12, result.TextToImageR10, 1e-9);
        Assert.Equal(2 * (100.0 + 500 + 1000) / 12, result.RSum, 1e-9);
    }

    [Fact]
    public void Image_hits_when_any_of_its_captions_is_in_the_top_k()
    {
        // 2 images, 4 texts: texts 0,1 -> image 0; texts 2,3 -> image 1.
        // Image 0: scores (0.1, 0.9, 0.5, 0.2): its caption 1 ranks first -> hit at 1 (caption 0 ranks last).
        // Image 1: scores (0.8, 0.7, 0.6, 0.1): best own caption (2) ranks third -> hit at 5, miss at 1.
        var scores = new double[,] { { 0.1, 0.9, 0.5, 0.2 }, { 0.8, 0.7, 0.6, 0.1 } };
        int[] textImage = [0, 0, 1, 1];
        Assert.Equal([0, 2], RetrievalRecall.ImageToTextRanks(scores, textImage));
        // Text-to-image, per column: t0: image0 0.1 < image1 0.8 -> rank 1; t1: 0.9 > 0.7 -> 0;
        // t2: image1 0.6 > 0.5 -> 0; t3: image1 0.1 < 0.2 -> rank 1.
        Assert.Equal([1, 0, 0, 1], RetrievalRecall.TextToImageRanks(scores, textImage));
        var result = RetrievalRecall.Compute(scores, textImage);
        Assert.Equal(50.0, result.ImageToTextR1);
        Assert.Equal(100.0, result.ImageToTextR5);
        Assert.Equal(50.0, result.TextToImageR1);
    }

    [Fact]
    public void Ties_count_against_the_ground_truth()
    {
        // Every score equal: each truth is beaten by all other candidates -> rank n-1 -> R@1 = 0 with 3 candidates.
        var scores = new double[3, 3];
        var result = RetrievalRecall.Compute(scores, [0, 1, 2]);
        Assert.Equal(0.0, result.ImageToTextR1);
        Assert.Equal(0.0, result.TextToImageR1);
        Assert.Equal(100.0, result.TextToImageR5);
    }

    [Fact]
    public void Recall_grows_with_k_and_a_perfect_diagonal_scores_100()
    {
        Gen.Int[2, 15].SelectMany(n => Gen.Double[-5, 5].Array[n * n].Select(values => (n, values)))
            .Sample(sample =>
            {
                var (n, values) = sample;
                var scores = new double[n, n];
                for (var i = 0; i < n; i++)
                    for (var t = 0; t < n; t++)
                        scores[i, t] = values[i * n + t];
                var ids = Enumerable.Range(0, n).ToArray();
                var r = RetrievalRecall.Compute(scores, ids);
                Assert.True(r.ImageToTextR1 <= r.ImageToTextR5 && r.ImageToTextR5 <= r.ImageToTextR10);
                Assert.True(r.TextToImageR1 <= r.TextToImageR5 && r.TextToImageR5 <= r.TextToImageR10);
                for (var i = 0; i < n; i++)
                    scores[i, i] = 100;
                var perfect = RetrievalRecall.Compute(scores, ids);
                Assert.Equal(600.0, perfect.RSum, 1e-9);
            }, iter: 200);
    }

    [Fact]
    public void Mismatched_text_mapping_is_rejected_with_a_clear_error()
    {
        var error = Assert.Throws<ArgumentException>(() => RetrievalRecall.Compute(new double[2, 3], [0, 1]));
        Assert.Contains("3 text columns", error.Message);
    }

    [Fact]
    public void Sum_and_mean_pair_scoring_can_rank_differently()
    {
        // Image 0 with text 0 (short, 1 token at ln 0.5 = -0.693) and text 1 (3 tokens at ln 0.8 = -0.223 each):
        // sum: -0.693 vs -0.669 -> text 1 ranks first; mean: -0.693 vs -0.223 -> text 1 too.
        // Image 0 with text 2 (1 token at ln 0.7 = -0.357): sum prefers text 2 (-0.357) over text 1 (-0.669),
        // mean prefers text 1 (-0.223) over text 2 (-0.357).
        IReadOnlyList<double> Tokens(int image, int text) => text switch
        {
            0 => [Math.Log(0.5)],
            1 => [Math.Log(0.8), Math.Log(0.8), Math.Log(0.8)],
            _ => [Math.Log(0.7)],
        };
        var sum = GenerativePairScore.Matrix(1, 3, Tokens, PairScoring.SumLogLikelihood);
        var mean = GenerativePairScore.Matrix(1, 3, Tokens, PairScoring.MeanLogLikelihood);
        Assert.Equal(3 * Math.Log(0.8), sum[0, 1], 1e-12);
        Assert.Equal(Math.Log(0.8), mean[0, 1], 1e-12);
        Assert.True(sum[0, 2] > sum[0, 1]);
        Assert.True(mean[0, 1] > mean[0, 2]);
        Assert.Throws<ArgumentException>(() => GenerativePairScore.Score([], PairScoring.MeanLogLikelihood));
    }

    [Fact]
    public void Perplexity_is_exp_of_negative_mean_token_log_likelihood()
    {
        // Tokens with probabilities 1/2, 1/4 (sequence 1) and 1/8 (sequence 2): mean log = -(ln2 + 2ln2 + 3ln2)/3 = -2 ln2
        // -> perplexity exp(2 ln2) = 4 (the geometric mean of 2, 4, 8).
        var perplexity = Perplexity.FromTokenLogLikelihoods([[Math.Log(0.5), Math.Log(0.25)], [Math.Log(0.125)]]);
        Assert.Equal(4.0, perplexity, 1e-12);
    }

    [Fact]
    public void Perplexity_of_certain_tokens_is_one_and_positive_log_likelihoods_are_rejected()
    {
        Assert.Equal(1.0, Perplexity.FromTokenLogLikelihoods([[0.0, 0.0]]));
        Assert.Throws<ArgumentException>(() => Perplexity.FromTokenLogLikelihoods([[0.5]]));
        Assert.Throws<ArgumentException>(() => Perplexity.FromTokenLogLikelihoods([[]]));
    }
}
