namespace Platform.Model.Evaluation.Captioning;

/// <summary>The captioning scores the field reports, on the 0..1 scale of the reference code (CIDEr-D on its 0..10 scale).</summary>
public sealed record CaptionScores(double Bleu1, double Bleu2, double Bleu3, double Bleu4, double RougeL, double CiderD, int Images)
{
    /// <summary>Name/value pairs in the order the reference code prints them.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Named() =>
    [
        new("Bleu_1", Bleu1), new("Bleu_2", Bleu2), new("Bleu_3", Bleu3), new("Bleu_4", Bleu4),
        new("ROUGE_L", RougeL), new("CIDEr", CiderD),
    ];
}

/// <summary>Tokenises every caption once and computes BLEU-1..4, ROUGE-L and CIDEr-D over the same images.</summary>
public static class CaptionMetrics
{
    public static CaptionScores Score(IEnumerable<CaptionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var tokenized = examples.Select(TokenizedCaptionExample.From).ToArray();
        if (tokenized.Length == 0)
            throw new ArgumentException("Captioning metrics need at least one image.", nameof(examples));
        var bleu = Bleu.Compute(tokenized);
        return new CaptionScores(bleu.Bleu1, bleu.Bleu2, bleu.Bleu3, bleu.Bleu4, RougeL.Compute(tokenized), CiderD.Compute(tokenized).Score, tokenized.Length);
    }
}
