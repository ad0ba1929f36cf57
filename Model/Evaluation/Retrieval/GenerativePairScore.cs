namespace Platform.Model.Evaluation.Retrieval;

/// <summary>How a generative model's per-token log-likelihoods of a text become one image-text score.</summary>
public enum PairScoring
{
    /// <summary>Sum over tokens: log P(text | image). Favours short texts.</summary>
    SumLogLikelihood,

    /// <summary>Mean over tokens: length-normalised, so captions of different lengths compare fairly.</summary>
    MeanLogLikelihood,
}

/// <summary>
/// Builds the retrieval score matrix for a generative model, which scores a pair by the likelihood
/// of the text given the image; reports must say which <see cref="PairScoring"/> was used.
/// </summary>
public static class GenerativePairScore
{
    public static double Score(IReadOnlyList<double> tokenLogLikelihoods, PairScoring scoring)
    {
        ArgumentNullException.ThrowIfNull(tokenLogLikelihoods);
        if (tokenLogLikelihoods.Count == 0)
            throw new ArgumentException("A text needs at least one scored token.", nameof(tokenLogLikelihoods));
        var sum = tokenLogLikelihoods.Sum();
        return scoring switch
        {
            PairScoring.SumLogLikelihood => sum,
            PairScoring.MeanLogLikelihood => sum / tokenLogLikelihoods.Count,
            _ => throw new ArgumentOutOfRangeException(nameof(scoring)),
        };
    }

    /// <summary>scores[image, text] from a function giving the per-token log-likelihoods of text given image.</summary>
    public static double[,] Matrix(int images, int texts, Func<int, int, IReadOnlyList<double>> tokenLogLikelihoods, PairScoring scoring)
    {
        ArgumentNullException.ThrowIfNull(tokenLogLikelihoods);
        var scores = new double[images, texts];
        for (var image = 0; image < images; image++)
            for (var text = 0; text < texts; text++)
                scores[image, text] = Score(tokenLogLikelihoods(image, text), scoring);
        return scores;
    }
}
