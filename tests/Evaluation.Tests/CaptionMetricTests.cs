using Platform.Model.Evaluation.Captioning;

namespace Platform.Evaluation.Tests;

public class CaptionMetricTests
{
    const double Tolerance = 1e-9;

    static TokenizedCaptionExample Example(string id, string hypothesis, params string[] references) =>
        TokenizedCaptionExample.From(new CaptionExample(id, hypothesis, references));

    [Fact]
    public void Bleu_single_image_hand_worked()
    {
        // hyp "the cat sat on the mat" (6 words); refs "the cat is on the mat" (6), "there is a cat on the mat" (7).
        // 1-grams: the x2 (max ref count 2), cat, sat (0), on, mat -> correct 5 / guess 6
        // 2-grams: the cat, cat sat, sat on, on the, the mat -> matches the cat, on the, the mat -> 3 / 5
        // 3-grams: the cat sat, cat sat on, sat on the, on the mat -> matches on the mat -> 1 / 4
        // 4-grams: the cat sat on, cat sat on the, sat on the mat -> no match -> 0 / 3
        // closest ref length 6 = hyp length; ratio (6+1e-15)/(6+1e-9) < 1 gives a penalty of exp(-1.7e-10).
        // BLEU-1 = 5/6 = 0.833333; BLEU-2 = sqrt(5/6*3/5) = sqrt(1/2) = 0.707107; BLEU-3 = cbrt(1/8) = 0.5;
        // BLEU-4 = (1/8 * 1e-15/3)^(1/4) = (4.1667e-17)^(1/4) = 8.0343e-5 (the 1e-15 smoothing keeps it non-zero).
        var result = Bleu.Compute([Example("1", "the cat sat on the mat", "the cat is on the mat", "there is a cat on the mat")]);
        Assert.Equal(5.0 / 6.0, result.Bleu1, Tolerance);
        Assert.Equal(Math.Sqrt(0.5), result.Bleu2, Tolerance);
        Assert.Equal(0.5, result.Bleu3, Tolerance);
        Assert.Equal(8.0343e-5, result.Bleu4, 1e-8);
        Assert.Equal(6, result.HypothesisLength);
        Assert.Equal(6, result.ReferenceLength);
    }

    [Fact]
    public void Bleu_clips_repeated_words_at_the_max_count_in_one_reference()
    {
        // hyp "the the the" (3); refs "the cat" and "the dog": max count of "the" in one ref = 1 -> 1/3.
        // closest ref length to 3 is 2; hyp is longer, so no brevity penalty. BLEU-1 = 1/3.
        var result = Bleu.Compute([Example("1", "the the the", "the cat", "the dog")]);
        Assert.Equal(1.0 / 3.0, result.Bleu1, Tolerance);
    }

    [Fact]
    public void Bleu_closest_reference_length_tie_goes_to_the_shorter()
    {
        // hyp "a red cube" (3); refs "a cube" (2) and "a big red cube" (4): both 1 away, the shorter (2)
        // is used, hyp is longer -> no penalty; every unigram is matched -> BLEU-1 = 3/3 = 1.
        // Had the longer one been used: exp(1 - 4/3) = 0.7165.
        var result = Bleu.Compute([Example("1", "a red cube", "a cube", "a big red cube")]);
        Assert.Equal(2, result.ReferenceLength);
        Assert.Equal(1.0, result.Bleu1, Tolerance);
    }

    [Fact]
    public void Bleu_is_corpus_level_with_a_summed_brevity_penalty()
    {
        // Image A: hyp "a cat" (2), ref "a cat sat here" (4): 2/2 unigrams.
        // Image B: hyp "a dog runs fast" (4), identical ref (4): 4/4 unigrams.
        // Corpus: correct 6 / guess 6; hyp length 6 < ref length 8 -> BP = exp(1 - 8/6) = exp(-1/3) = 0.716531.
        // (The mean of per-image BLEU-1 would be (exp(1-2) + 1)/2 = 0.684; the corpus score differs.)
        var result = Bleu.Compute([Example("A", "a cat", "a cat sat here"), Example("B", "a dog runs fast", "a dog runs fast")]);
        Assert.Equal(6, result.HypothesisLength);
        Assert.Equal(8, result.ReferenceLength);
        Assert.Equal(Math.Exp(-1.0 / 3.0), result.Bleu1, 1e-8);
    }

    [Fact]
    public void Bleu_tokenizes_hypothesis_and_references_alike()
    {
        // "A Dog, running." and "a dog running" are the same three tokens after tokenisation -> BLEU-1..3 = 1.
        var result = Bleu.Compute([Example("1", "A Dog, running.", "a dog running")]);
        Assert.Equal(1.0, result.Bleu1, Tolerance);
        Assert.Equal(1.0, result.Bleu3, Tolerance);
    }

    [Fact]
    public void RougeL_takes_precision_and_recall_maxima_from_different_references()
    {
        // hyp "a red cube on the left" (6).
        // ref1 "a red cube" (3): LCS 3 -> P 3/6 = 0.5, R 3/3 = 1.
        // ref2 "the cube on the left side" (6): LCS "cube on the left" 4 -> P 4/6, R 4/6.
        // max P = 2/3 (ref2), max R = 1 (ref1). F = (1+1.44)*(2/3)*1 / (1 + 1.44*(2/3)) = 1.626667/1.96 = 0.829932.
        var score = RougeL.Compute([Example("1", "a red cube on the left", "a red cube", "the cube on the left side")]);
        Assert.Equal(0.829932, score, 1e-6);
    }

    [Fact]
    public void RougeL_is_the_mean_over_images_and_zero_without_overlap()
    {
        // Image 1: identical -> P = R = 1 -> F = 1. Image 2: no common word -> 0. Mean = 0.5.
        var score = RougeL.Compute([Example("1", "a blue ball", "a blue ball"), Example("2", "green cube", "red star")]);
        Assert.Equal(0.5, score, Tolerance);
    }

    [Fact]
    public void RougeL_treats_an_empty_hypothesis_as_one_empty_token()
    {
        // The reference splits "" on " " into [""]: length 1, LCS 0 against real words -> 0, not a division by zero.
        var score = RougeL.Compute([Example("1", "...", "a dog")]);
        Assert.Equal(0.0, score);
    }

    [Fact]
    public void CiderD_hand_worked_two_image_corpus()
    {
        // N = 2 images, log N = ln 2. Reference-set document frequencies: "blue" occurs in both images'
        // references (df 2 -> weight ln2 - ln2 = 0); every other reference n-gram has df 1 (weight ln 2).
        // Image 1: hyp "red cube", refs "red cube", "blue cube". Hyp bigram count (length) 1.
        //   ref "red cube": identical vectors -> n=1: 1, n=2: 1; n=3,4: 0 (empty vectors).
        //   ref "blue cube" (blue weighs 0): n=1: ln2^2 / (sqrt2 ln2 * ln2) = 1/sqrt2; n=2: 0.
        //   sum over refs per n: (1.707107, 1, 0, 0); mean over n = 0.676777; / 2 refs = 0.338388; x10 = 3.383883.
        // Image 2: hyp "blue ball here" ("here" is in no reference: df 0 -> max(1, 0) -> full weight ln 2);
        //   hyp length 2 bigrams, refs 1 -> penalty exp(-1/72) = 0.986207.
        //   hyp norms: n=1 sqrt2 ln2 (ball, here), n=2 sqrt2 ln2 (blue ball, ball here), n=3 ln2; refs have no trigrams -> 0.
        //   ref "blue ball": n=1: ln2^2/(sqrt2 ln2 * ln2) = 0.707107; n=2: 0.707107.
        //   ref "green ball": n=1: ln2^2/(sqrt2 ln2 * sqrt2 ln2) = 0.5; n=2: 0.
        //   sum: n=1 (0.707107+0.5)*0.986207 = 1.190456, n=2 0.707107*0.986207 = 0.697354;
        //   mean over 4 orders = 0.471953; / 2 refs = 0.235976; x10 = 2.359764.
        // Corpus = (3.383883 + 2.359764) / 2 = 2.871824.
        var result = CiderD.Compute(
        [
            Example("1", "red cube", "red cube", "blue cube"),
            Example("2", "blue ball here", "blue ball", "green ball"),
        ]);
        Assert.Equal(3.383883, result.ImageScores[0], 1e-5);
        Assert.Equal(2.359764, result.ImageScores[1], 1e-5);
        Assert.Equal(2.871824, result.Score, 1e-5);
    }

    [Fact]
    public void CiderD_is_zero_on_a_single_image_because_every_reference_ngram_has_idf_zero()
    {
        // N = 1: log N = 0 and every reference n-gram has df 1 -> all weights 0 -> score 0 even for a perfect caption.
        var result = CiderD.Compute([Example("1", "a red cube", "a red cube")]);
        Assert.Equal(0.0, result.Score);
    }

    [Fact]
    public void CiderD_length_penalty_uses_bigram_counts_with_sigma_six()
    {
        // Two images so idf is ln 2 for the image-specific words. Perfect captions, equal lengths, penalty 1:
        // (1 + 1 + 0 + 0)/4 / 1 ref * 10 = 5.0: the empty 3- and 4-gram orders count in the mean.
        var result = CiderD.Compute([Example("1", "red cube", "red cube"), Example("2", "blue ball", "blue ball")]);
        Assert.Equal(5.0, result.ImageScores[0], Tolerance);
        Assert.Equal(5.0, result.ImageScores[1], Tolerance);

        // Image 2 hyp "blue ball ball ball ball ball ball ball" has 7 bigrams vs 1 -> delta 6 -> exp(-36/72) = exp(-0.5).
        // Its unigram vector: blue 1*ln2, ball 7*ln2; ref: blue ln2, ball ln2.
        //   n=1: (min(ln2,ln2)*ln2 + min(7ln2,ln2)*ln2) / (sqrt(50) ln2 * sqrt2 ln2) = 2/sqrt(100) = 0.2
        //   n=2: hyp "blue ball" ln2, "ball ball" 6 ln2 (df 0 -> ln2 each) -> norm sqrt(37) ln2; ref norm ln2
        //        -> ln2^2 / (sqrt37 ln2 * ln2) = 1/sqrt(37) = 0.164399
        //   n=3,4: ref has none -> 0.
        //   score = (0.2 + 0.164399) * exp(-0.5) / 4 * 10 = 0.364399 * 0.606531 / 4 * 10 = 0.552548.
        var penalised = CiderD.Compute([Example("1", "red cube", "red cube"), Example("2", "blue ball ball ball ball ball ball ball", "blue ball")]);
        Assert.Equal(0.552548, penalised.ImageScores[1], 1e-5);
    }

    [Fact]
    public void Caption_metrics_score_a_corpus_with_every_metric()
    {
        // Perfect captions on two images: BLEU-1 = 1 (lengths equal), ROUGE-L = 1, CIDEr-D = 5 (see above).
        var scores = CaptionMetrics.Score(
        [
            new CaptionExample("1", "Red cube.", ["red cube"]),
            new CaptionExample("2", "blue ball", ["Blue ball!"]),
        ]);
        Assert.Equal(1.0, scores.Bleu1, 1e-8);
        Assert.Equal(1.0, scores.RougeL, Tolerance);
        Assert.Equal(5.0, scores.CiderD, Tolerance);
        Assert.Equal(2, scores.Images);
    }
}
