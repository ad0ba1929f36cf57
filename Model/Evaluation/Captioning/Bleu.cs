namespace Platform.Model.Evaluation.Captioning;

/// <summary>Corpus BLEU-1..4 as the COCO caption evaluation reports them.</summary>
/// <param name="Scores">BLEU-n at index n-1.</param>
/// <param name="HypothesisLength">Summed hypothesis length (tokens).</param>
/// <param name="ReferenceLength">Summed effective reference length (closest reference per image).</param>
public sealed record BleuResult(IReadOnlyList<double> Scores, int HypothesisLength, int ReferenceLength)
{
    public double Bleu1 => Scores[0];
    public double Bleu2 => Scores[1];
    public double Bleu3 => Scores[2];
    public double Bleu4 => Scores[3];
}

/// <summary>
/// Corpus-level BLEU with the reference scorer's choices: clipped n-gram matches against the
/// maximum count in any one reference, per-image "closest" reference length (ties go to the
/// shorter), counts and lengths summed over the corpus before the geometric mean, and the
/// smoothing constants 1e-15 / 1e-9 that keep BLEU-4 tiny but non-zero when nothing matches.
/// </summary>
public static class Bleu
{
    public const int MaxOrder = 4;
    const double Tiny = 1e-15;
    const double Small = 1e-9;

    public static BleuResult Compute(IReadOnlyCollection<TokenizedCaptionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0)
            throw new ArgumentException("BLEU needs at least one image.", nameof(examples));

        var correct = new long[MaxOrder];
        var guess = new long[MaxOrder];
        var hypothesisLength = 0;
        var referenceLength = 0;

        foreach (var example in examples)
        {
            var hypothesisCounts = NGrams.Count(example.Hypothesis, MaxOrder);
            var maxReferenceCounts = new Dictionary<string, int>[MaxOrder];
            for (var k = 0; k < MaxOrder; k++)
                maxReferenceCounts[k] = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var reference in example.References)
            {
                var counts = NGrams.Count(reference, MaxOrder);
                for (var k = 0; k < MaxOrder; k++)
                    foreach (var (ngram, count) in counts[k])
                        maxReferenceCounts[k][ngram] = Math.Max(maxReferenceCounts[k].GetValueOrDefault(ngram), count);
            }

            var testLength = example.Hypothesis.Count;
            hypothesisLength += testLength;
            referenceLength += ClosestReferenceLength(example.References.Select(r => r.Count), testLength);

            for (var k = 0; k < MaxOrder; k++)
            {
                guess[k] += Math.Max(0, testLength - k);
                foreach (var (ngram, count) in hypothesisCounts[k])
                    correct[k] += Math.Min(maxReferenceCounts[k].GetValueOrDefault(ngram), count);
            }
        }

        var scores = new double[MaxOrder];
        var product = 1.0;
        for (var k = 0; k < MaxOrder; k++)
        {
            product *= (correct[k] + Tiny) / (guess[k] + Small);
            scores[k] = Math.Pow(product, 1.0 / (k + 1));
        }
        // The reference compares the smoothed ratio with 1, so equal lengths still get a (negligible) penalty.
        var ratio = (hypothesisLength + Tiny) / (referenceLength + Small);
        if (ratio < 1)
        {
            var brevityPenalty = Math.Exp(1 - 1 / ratio);
            for (var k = 0; k < MaxOrder; k++)
                scores[k] *= brevityPenalty;
        }
        return new BleuResult(scores, hypothesisLength, referenceLength);
    }

    /// <summary>The reference length closest to the hypothesis length; on a tie the shorter one.</summary>
    public static int ClosestReferenceLength(IEnumerable<int> referenceLengths, int hypothesisLength) =>
        referenceLengths
            .OrderBy(length => Math.Abs(length - hypothesisLength))
            .ThenBy(length => length)
            .First();
}
