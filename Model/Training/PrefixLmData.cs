namespace Platform.Model.Training;

/// <summary>
/// Endless streams of tokenised training samples, one per data kind, with a cursor that a
/// checkpoint saves so that a resumed run continues with the very next samples.
/// </summary>
public interface IPrefixLmData
{
    bool HasImageText { get; }

    bool HasTextOnly { get; }

    IReadOnlyList<PrefixLmSample> NextImageText(int count);

    IReadOnlyList<PrefixLmSample> NextTextOnly(int count);

    /// <summary>The position in both streams, as text for the checkpoint.</summary>
    string SaveCursor();

    void RestoreCursor(string cursor);
}

/// <summary>
/// Samples held in memory, visited in a fresh shuffled order each epoch. The order depends only on
/// the seed and the epoch, so the cursor is just (epoch, index) per stream.
/// </summary>
public sealed class InMemoryPrefixLmData : IPrefixLmData
{
    private readonly Stream imageText, textOnly;

    public InMemoryPrefixLmData(IReadOnlyList<PrefixLmSample> imageTextSamples, IReadOnlyList<PrefixLmSample> textOnlySamples, ulong seed)
    {
        if (imageTextSamples.Any(s => s.Pixels is null)) throw new ArgumentException("Image-text samples need pixels.", nameof(imageTextSamples));
        if (textOnlySamples.Any(s => s.Pixels is not null)) throw new ArgumentException("Text-only samples carry no pixels.", nameof(textOnlySamples));
        imageText = new Stream(imageTextSamples, seed);
        textOnly = new Stream(textOnlySamples, seed ^ 0x5DEECE66DUL);
    }

    public bool HasImageText => imageText.Samples.Count > 0;

    public bool HasTextOnly => textOnly.Samples.Count > 0;

    public IReadOnlyList<PrefixLmSample> NextImageText(int count) => imageText.Take(count);

    public IReadOnlyList<PrefixLmSample> NextTextOnly(int count) => textOnly.Take(count);

    public string SaveCursor() => $"{imageText.Epoch}:{imageText.Index};{textOnly.Epoch}:{textOnly.Index}";

    public void RestoreCursor(string cursor)
    {
        var parts = cursor.Split(';', ':');
        if (parts.Length != 4 || !parts.All(p => int.TryParse(p, out _))) throw new FormatException($"'{cursor}' is not an in-memory data cursor.");
        imageText.MoveTo(int.Parse(parts[0]), int.Parse(parts[1]));
        textOnly.MoveTo(int.Parse(parts[2]), int.Parse(parts[3]));
    }

    private sealed class Stream(IReadOnlyList<PrefixLmSample> samples, ulong seed)
    {
        private int[] order = [];

        public IReadOnlyList<PrefixLmSample> Samples => samples;
        public int Epoch { get; private set; } = -1;
        public int Index { get; private set; }

        public IReadOnlyList<PrefixLmSample> Take(int count)
        {
            if (count > 0 && samples.Count == 0) throw new InvalidOperationException("This data has no samples of the requested kind.");
            var taken = new PrefixLmSample[count];
            for (int i = 0; i < count; i++)
            {
                if (Epoch < 0 || Index == samples.Count) MoveTo(Epoch + 1, 0);
                taken[i] = samples[order[Index++]];
            }
            return taken;
        }

        public void MoveTo(int epoch, int index)
        {
            if (epoch >= 0 && epoch != Epoch) order = Shuffled(epoch);
            Epoch = epoch;
            Index = index;
        }

        private int[] Shuffled(int epoch)
        {
            var random = new DeterministicRandom(seed + (ulong)epoch * 0x9E3779B97F4A7C15UL);
            int[] permutation = Enumerable.Range(0, samples.Count).ToArray();
            for (int i = permutation.Length - 1; i > 0; i--)
            {
                int j = random.Next(0, i + 1);
                (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
            }
            return permutation;
        }
    }
}
