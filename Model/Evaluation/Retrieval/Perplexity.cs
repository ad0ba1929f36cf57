namespace Platform.Model.Evaluation.Retrieval;

/// <summary>Text perplexity: exp of the negative mean natural-log likelihood per token over a corpus.</summary>
public static class Perplexity
{
    /// <param name="tokenLogLikelihoods">Per sequence, the natural-log probability of each predicted token.</param>
    public static double FromTokenLogLikelihoods(IEnumerable<IReadOnlyList<double>> tokenLogLikelihoods)
    {
        ArgumentNullException.ThrowIfNull(tokenLogLikelihoods);
        var sum = 0.0;
        long tokens = 0;
        foreach (var sequence in tokenLogLikelihoods)
        {
            foreach (var logLikelihood in sequence)
            {
                if (double.IsNaN(logLikelihood) || logLikelihood > 0)
                    throw new ArgumentException($"Token log-likelihood {logLikelihood} is not a log-probability (must be <= 0).", nameof(tokenLogLikelihoods));
                sum += logLikelihood;
                tokens++;
            }
        }
        if (tokens == 0)
            throw new ArgumentException("Perplexity needs at least one token.", nameof(tokenLogLikelihoods));
        return Math.Exp(-sum / tokens);
    }
}
