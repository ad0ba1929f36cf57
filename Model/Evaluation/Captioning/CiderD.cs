namespace Platform.Model.Evaluation.Captioning;

/// <summary>Corpus CIDEr-D and the per-image scores it averages (order of the input).</summary>
public sealed record CiderResult(double Score, IReadOnlyList<double> ImageScores);

/// <summary>
/// CIDEr-D exactly as the COCO caption evaluation's "CIDEr" scorer computes it: tf-idf vectors
/// per n-gram order with document frequencies counted over the evaluated images' reference sets,
/// idf log(N) - log(max(1, df)), clipped similarity min(hyp, ref) x ref over the product of norms,
/// a Gaussian length penalty with sigma 6 on the bigram counts (words - 1), the mean over
/// n = 1..4, divided by the number of references, times 10.
/// </summary>
public static class CiderD
{
    public const int MaxOrder = 4;
    public const double Sigma = 6.0;

    public static CiderResult Compute(IReadOnlyList<TokenizedCaptionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0)
            throw new ArgumentException("CIDEr-D needs at least one image.", nameof(examples));

        var hypothesisCounts = examples.Select(e => NGrams.Count(e.Hypothesis, MaxOrder)).ToArray();
        var referenceCounts = examples.Select(e => e.References.Select(r => NGrams.Count(r, MaxOrder)).ToArray()).ToArray();

        var documentFrequency = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var references in referenceCounts)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var counts in references)
                foreach (var table in counts)
                    foreach (var ngram in table.Keys)
                        seen.Add(ngram);
            foreach (var ngram in seen)
                documentFrequency[ngram] = documentFrequency.GetValueOrDefault(ngram) + 1;
        }

        var logImageCount = Math.Log(examples.Count);
        var imageScores = new double[examples.Count];
        for (var image = 0; image < examples.Count; image++)
        {
            var hypothesis = ToVector(hypothesisCounts[image], documentFrequency, logImageCount);
            var sum = new double[MaxOrder];
            foreach (var referenceCount in referenceCounts[image])
            {
                var reference = ToVector(referenceCount, documentFrequency, logImageCount);
                var similarity = Similarity(hypothesis, reference);
                for (var n = 0; n < MaxOrder; n++)
                    sum[n] += similarity[n];
            }
            imageScores[image] = sum.Average() / referenceCounts[image].Length * 10.0;
        }
        return new CiderResult(imageScores.Average(), imageScores);
    }

    sealed record TfIdfVector(Dictionary<string, double>[] Weights, double[] Norms, int BigramCount);

    static TfIdfVector ToVector(Dictionary<string, int>[] counts, Dictionary<string, int> documentFrequency, double logImageCount)
    {
        var weights = new Dictionary<string, double>[MaxOrder];
        var norms = new double[MaxOrder];
        var bigramCount = 0;
        for (var n = 0; n < MaxOrder; n++)
        {
            weights[n] = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var (ngram, termFrequency) in counts[n])
            {
                // An n-gram absent from every reference set gets df 1, i.e. the full weight log(N).
                var logDf = Math.Log(Math.Max(1.0, documentFrequency.GetValueOrDefault(ngram)));
                var weight = termFrequency * (logImageCount - logDf);
                weights[n][ngram] = weight;
                norms[n] += weight * weight;
                if (n == 1)
                    bigramCount += termFrequency;
            }
            norms[n] = Math.Sqrt(norms[n]);
        }
        return new TfIdfVector(weights, norms, bigramCount);
    }

    static double[] Similarity(TfIdfVector hypothesis, TfIdfVector reference)
    {
        double delta = hypothesis.BigramCount - reference.BigramCount;
        var lengthPenalty = Math.Exp(-(delta * delta) / (2 * Sigma * Sigma));
        var values = new double[MaxOrder];
        for (var n = 0; n < MaxOrder; n++)
        {
            var value = 0.0;
            foreach (var (ngram, hypothesisWeight) in hypothesis.Weights[n])
            {
                var referenceWeight = reference.Weights[n].GetValueOrDefault(ngram);
                value += Math.Min(hypothesisWeight, referenceWeight) * referenceWeight;
            }
            if (hypothesis.Norms[n] != 0 && reference.Norms[n] != 0)
                value /= hypothesis.Norms[n] * reference.Norms[n];
            values[n] = value * lengthPenalty;
        }
        return values;
    }
}
