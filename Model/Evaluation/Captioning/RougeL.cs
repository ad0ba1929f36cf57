namespace Platform.Model.Evaluation.Captioning;

/// <summary>
/// ROUGE-L as the COCO caption evaluation computes it: per image, the longest common subsequence
/// with each reference gives a precision and a recall; the maxima over references are taken
/// separately (they may come from different references) and combined with beta = 1.2; the corpus
/// score is the mean over images.
/// </summary>
public static class RougeL
{
    public const double Beta = 1.2;

    public static double Compute(IReadOnlyCollection<TokenizedCaptionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0)
            throw new ArgumentException("ROUGE-L needs at least one image.", nameof(examples));
        return examples.Average(e => ImageScore(e.Hypothesis, e.References));
    }

    public static double ImageScore(IReadOnlyList<string> hypothesis, IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (references.Count == 0)
            throw new ArgumentException("ROUGE-L needs at least one reference.", nameof(references));
        var candidate = AsSplitOnSpace(hypothesis);
        var maxPrecision = 0.0;
        var maxRecall = 0.0;
        foreach (var reference in references)
        {
            var target = AsSplitOnSpace(reference);
            var lcs = LongestCommonSubsequence(target, candidate);
            maxPrecision = Math.Max(maxPrecision, lcs / (double)candidate.Count);
            maxRecall = Math.Max(maxRecall, lcs / (double)target.Count);
        }
        if (maxPrecision == 0 || maxRecall == 0)
            return 0;
        var betaSquared = Beta * Beta;
        return (1 + betaSquared) * maxPrecision * maxRecall / (maxRecall + betaSquared * maxPrecision);
    }

    /// <summary>
    /// The reference splits the joined caption on a single space, so an empty caption is one empty
    /// token (length 1), which keeps its divisions defined; reproduced for identical scores.
    /// </summary>
    static IReadOnlyList<string> AsSplitOnSpace(IReadOnlyList<string> tokens) => tokens.Count == 0 ? [""] : tokens;

    public static int LongestCommonSubsequence(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var previous = new int[b.Count + 1];
        var current = new int[b.Count + 1];
        for (var i = 1; i <= a.Count; i++)
        {
            for (var j = 1; j <= b.Count; j++)
                current[j] = string.Equals(a[i - 1], b[j - 1], StringComparison.Ordinal)
                    ? previous[j - 1] + 1
                    : Math.Max(previous[j], current[j - 1]);
            (previous, current) = (current, previous);
        }
        return previous[b.Count];
    }
}
