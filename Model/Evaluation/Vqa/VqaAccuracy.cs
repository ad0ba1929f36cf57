namespace Platform.Model.Evaluation.Vqa;

/// <summary>A question's predicted answer with its ten human answers (and the answer type for the breakdown).</summary>
public sealed record VqaExample(long QuestionId, string Prediction, IReadOnlyList<string> HumanAnswers, string AnswerType = "");

/// <summary>Overall VQA accuracy (0..100) and the per-answer-type accuracies the official code also reports.</summary>
public sealed record VqaScores(double Overall, IReadOnlyDictionary<string, double> PerAnswerType, int Questions);

/// <summary>The official VQA accuracy: leave-one-out over the human answers, min(1, matches / 3).</summary>
public static class VqaAccuracy
{
    /// <summary>Accuracy of one question on the 0..1 scale.</summary>
    public static double QuestionAccuracy(string prediction, IReadOnlyList<string> humanAnswers)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(humanAnswers);
        if (humanAnswers.Count < 2)
            throw new ArgumentException("VQA accuracy needs at least two human answers (VQAv2 has ten).", nameof(humanAnswers));

        var answers = humanAnswers.Select(VqaAnswerNormalizer.Clean).ToArray();
        var predicted = VqaAnswerNormalizer.Clean(prediction);
        // Normalisation only when the humans disagree: ten identical answers are compared verbatim.
        if (answers.Distinct(StringComparer.Ordinal).Count() > 1)
        {
            answers = answers.Select(VqaAnswerNormalizer.Normalize).ToArray();
            predicted = VqaAnswerNormalizer.Normalize(predicted);
        }

        var matchesTotal = answers.Count(a => string.Equals(a, predicted, StringComparison.Ordinal));
        var sum = 0.0;
        foreach (var answer in answers)
        {
            var othersMatching = matchesTotal - (string.Equals(answer, predicted, StringComparison.Ordinal) ? 1 : 0);
            sum += Math.Min(1.0, othersMatching / 3.0);
        }
        return sum / answers.Length;
    }

    public static VqaScores Score(IEnumerable<VqaExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var perType = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var all = new List<double>();
        foreach (var example in examples)
        {
            var accuracy = QuestionAccuracy(example.Prediction, example.HumanAnswers);
            all.Add(accuracy);
            if (!string.IsNullOrEmpty(example.AnswerType))
            {
                if (!perType.TryGetValue(example.AnswerType, out var list))
                    perType[example.AnswerType] = list = [];
                list.Add(accuracy);
            }
        }
        if (all.Count == 0)
            throw new ArgumentException("VQA accuracy needs at least one question.", nameof(examples));
        return new VqaScores(
            100 * all.Average(),
            perType.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => 100 * p.Value.Average()),
            all.Count);
    }
}
