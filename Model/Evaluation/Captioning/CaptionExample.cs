namespace Platform.Model.Evaluation.Captioning;

/// <summary>One image's generated caption and its human reference captions, as raw text.</summary>
public sealed record CaptionExample(string ImageId, string Hypothesis, IReadOnlyList<string> References);

/// <summary>One image's caption and references after <see cref="CaptionTokenizer"/>.</summary>
public sealed record TokenizedCaptionExample(string ImageId, IReadOnlyList<string> Hypothesis, IReadOnlyList<IReadOnlyList<string>> References)
{
    public static TokenizedCaptionExample From(CaptionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        if (example.References.Count == 0)
            throw new ArgumentException($"Image {example.ImageId} has no reference captions; every scored image needs at least one.", nameof(example));
        return new TokenizedCaptionExample(
            example.ImageId,
            CaptionTokenizer.Tokenize(example.Hypothesis),
            example.References.Select(CaptionTokenizer.Tokenize).ToArray());
    }
}

/// <summary>Counts of the n-grams of orders 1..maxOrder of a token sequence, keyed by the space-joined n-gram.</summary>
static class NGrams
{
    public static Dictionary<string, int>[] Count(IReadOnlyList<string> tokens, int maxOrder)
    {
        var counts = new Dictionary<string, int>[maxOrder];
        for (var order = 1; order <= maxOrder; order++)
        {
            var table = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i + order <= tokens.Count; i++)
            {
                var key = string.Join(' ', tokens.Skip(i).Take(order));
                table[key] = table.GetValueOrDefault(key) + 1;
            }
            counts[order - 1] = table;
        }
        return counts;
    }
}
