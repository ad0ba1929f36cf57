namespace Platform.Model.Evaluation.Understanding;

/// <summary>
/// Accuracy of generated labels (SNLI-VE, NLVR2), in percent as the papers report it. There is no
/// official normalisation: a prediction counts when, trimmed, lower-cased and without a final
/// period, it equals the gold label ("True." matches NLVR2's "True").
/// </summary>
public static class LabelAccuracy
{
    public static string Normalize(string label) => label.Trim().TrimEnd('.').Trim().ToLowerInvariant();

    public static double Percent(IEnumerable<(string Prediction, string Label)> pairs)
    {
        int total = 0, right = 0;
        foreach (var (prediction, label) in pairs)
        {
            total++;
            if (Normalize(prediction) == Normalize(label)) right++;
        }
        if (total == 0) throw new ArgumentException("Accuracy needs at least one example.", nameof(pairs));
        return 100.0 * right / total;
    }
}
