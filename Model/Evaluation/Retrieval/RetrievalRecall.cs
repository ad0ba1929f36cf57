namespace Platform.Model.Evaluation.Retrieval;

/// <summary>Recall@1/5/10 in both directions (percentages) and their sum, the field's retrieval summary.</summary>
public sealed record RetrievalScores(
    double ImageToTextR1, double ImageToTextR5, double ImageToTextR10,
    double TextToImageR1, double TextToImageR5, double TextToImageR10)
{
    public double RSum => ImageToTextR1 + ImageToTextR5 + ImageToTextR10 + TextToImageR1 + TextToImageR5 + TextToImageR10;

    public IReadOnlyList<KeyValuePair<string, double>> Named() =>
    [
        new("i2t_R@1", ImageToTextR1), new("i2t_R@5", ImageToTextR5), new("i2t_R@10", ImageToTextR10),
        new("t2i_R@1", TextToImageR1), new("t2i_R@5", TextToImageR5), new("t2i_R@10", TextToImageR10),
        new("RSUM", RSum),
    ];
}

/// <summary>
/// Image-text retrieval recall from a score matrix scores[image, text] (higher is better; for a
/// generative model, the log-likelihood of the text given the image). An image is a hit at K when
/// any of its ground-truth texts ranks within the top K texts; a text is a hit when its image ranks
/// within the top K images.
/// </summary>
/// <remarks>
/// Ties are broken against the ground truth (a wrong candidate with an equal score ranks first), so
/// a model that scores everything equally gets no credit instead of credit from an argsort's order.
/// </remarks>
public static class RetrievalRecall
{
    public static readonly int[] Ks = [1, 5, 10];

    /// <param name="scores">scores[image, text].</param>
    /// <param name="textImage">For each text (column), the index of the image it describes.</param>
    public static RetrievalScores Compute(double[,] scores, IReadOnlyList<int> textImage)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(textImage);
        var images = scores.GetLength(0);
        var texts = scores.GetLength(1);
        if (images == 0 || texts == 0)
            throw new ArgumentException("The score matrix is empty.", nameof(scores));
        if (textImage.Count != texts)
            throw new ArgumentException($"textImage has {textImage.Count} entries but the score matrix has {texts} text columns.", nameof(textImage));
        for (var t = 0; t < texts; t++)
        {
            if (textImage[t] < 0 || textImage[t] >= images)
                throw new ArgumentException($"Text {t} points at image {textImage[t]}, outside 0..{images - 1}.", nameof(textImage));
            for (var i = 0; i < images; i++)
                if (double.IsNaN(scores[i, t]))
                    throw new ArgumentException($"Score [{i}, {t}] is NaN.", nameof(scores));
        }

        var imageRanks = ImageToTextRanks(scores, textImage);
        var textRanks = TextToImageRanks(scores, textImage);
        return new RetrievalScores(
            RecallAt(imageRanks, 1), RecallAt(imageRanks, 5), RecallAt(imageRanks, 10),
            RecallAt(textRanks, 1), RecallAt(textRanks, 5), RecallAt(textRanks, 10));
    }

    /// <summary>Per image, the 0-based rank of its best-ranked ground-truth text (images without a text get int.MaxValue).</summary>
    public static int[] ImageToTextRanks(double[,] scores, IReadOnlyList<int> textImage)
    {
        var images = scores.GetLength(0);
        var texts = scores.GetLength(1);
        var ranks = new int[images];
        for (var image = 0; image < images; image++)
        {
            var best = int.MaxValue;
            for (var t = 0; t < texts; t++)
            {
                if (textImage[t] != image) continue;
                best = Math.Min(best, RankAmong(scores[image, t], t, texts, other => scores[image, other]));
            }
            ranks[image] = best;
        }
        return ranks;
    }

    /// <summary>Per text, the 0-based rank of its image among all images.</summary>
    public static int[] TextToImageRanks(double[,] scores, IReadOnlyList<int> textImage)
    {
        var images = scores.GetLength(0);
        var texts = scores.GetLength(1);
        var ranks = new int[texts];
        for (var t = 0; t < texts; t++)
        {
            var truth = textImage[t];
            ranks[t] = RankAmong(scores[truth, t], truth, images, other => scores[other, t]);
        }
        return ranks;
    }

    /// <summary>Number of other candidates scoring at least as high as the ground truth.</summary>
    static int RankAmong(double truthScore, int truthIndex, int count, Func<int, double> score)
    {
        var rank = 0;
        for (var other = 0; other < count; other++)
            if (other != truthIndex && score(other) >= truthScore)
                rank++;
        return rank;
    }

    static double RecallAt(int[] ranks, int k) => 100.0 * ranks.Count(r => r < k) / ranks.Length;
}
