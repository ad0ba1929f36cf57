using System.Text;

namespace Platform.Model;

/// <summary>Settings of <see cref="SentencePieceBpeTrainer"/>.</summary>
public sealed record SubwordTrainingOptions
{
    /// <summary>Pieces in all: the 3 special pieces, the 256 byte pieces, the kept characters and the merges.</summary>
    public int VocabSize { get; init; } = 32_000;

    /// <summary>Texts trained on at most; a larger corpus is sampled uniformly (reservoir sampling, seeded).</summary>
    public int MaxTexts { get; init; } = 1_000_000;

    /// <summary>Share of character occurrences that get a piece of their own (SentencePiece's default); rarer characters are spelled in bytes.</summary>
    public double CharacterCoverage { get; init; } = 0.9995;

    /// <summary>Longest piece in UTF-16 code units (SentencePiece's max_sentencepiece_length).</summary>
    public int MaxPieceLength { get; init; } = 16;

    public ulong Seed { get; init; } = 1;

    public SubwordTrainingOptions Validate()
    {
        if (VocabSize < SentencePieceBpeTrainer.FixedPieces + 1)
            throw new ArgumentOutOfRangeException(nameof(VocabSize), $"A vocabulary needs more than its {SentencePieceBpeTrainer.FixedPieces} special and byte pieces; give --vocab {SentencePieceBpeTrainer.FixedPieces + 1} or more (SentencePiece's usual sizes are 8000 to 32000).");
        if (MaxTexts < 1) throw new ArgumentOutOfRangeException(nameof(MaxTexts), "At least one text must be trained on.");
        if (CharacterCoverage is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(CharacterCoverage), "Character coverage is a share in (0, 1].");
        if (MaxPieceLength < 2) throw new ArgumentOutOfRangeException(nameof(MaxPieceLength), "Pieces of at least two characters are needed for any merge.");
        return this;
    }
}

/// <summary>The stages <see cref="SentencePieceBpeTrainer"/> reports.</summary>
public enum SubwordTrainingStage
{
    /// <summary>Texts read so far (Done); Total unknown.</summary>
    Reading,
    /// <summary>All texts read (Done) and the number kept in the sample (Total).</summary>
    Read,
    /// <summary>Merges made (Done) of those the vocabulary size plans (Total).</summary>
    Merging,
    /// <summary>Merging ended: merges made (Done) of those planned (Total).</summary>
    Merged,
}

/// <summary>Where training stands.</summary>
public readonly record struct SubwordTrainingProgress(SubwordTrainingStage Stage, long Done, long Total);

/// <summary>
/// Trains a SentencePiece-style BPE vocabulary with byte fallback on a corpus, the way SentencePiece's own BPE
/// trainer does: texts are split into words at spaces (a word keeps its leading U+2581), the most frequent
/// characters become pieces, then the most frequent adjacent pair of pieces is merged into a new piece, again and
/// again, until the vocabulary is full. Every character without a piece is spelled with the 256 byte pieces, so no
/// text ever maps to the unknown piece. The pair counts are kept up to date by each merge, which visits only the
/// words that hold the merged pair. The result is an ordinary SentencePiece model file.
/// </summary>
public static class SentencePieceBpeTrainer
{
    /// <summary>&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt; and the 256 byte pieces.</summary>
    public const int FixedPieces = 3 + 256;

    private static readonly string[] SpecialPieces = ["<unk>", "<s>", "</s>", .. Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>")];

    public static SentencePieceModelFile Train(IEnumerable<string> texts, SubwordTrainingOptions options, IProgress<SubwordTrainingProgress>? progress = null)
    {
        options.Validate();
        var sample = Sample(texts, options, progress);
        var words = CountWords(sample);
        if (words.Count == 0) throw new InvalidDataException("The corpus holds no text to train a vocabulary on.");
        var characters = KeptCharacters(words, options);
        return BuildModel(characters, Merge(words, characters, options, progress), options);
    }

    private static List<string> Sample(IEnumerable<string> texts, SubwordTrainingOptions options, IProgress<SubwordTrainingProgress>? progress)
    {
        var random = new DeterministicRandom(options.Seed);
        var sample = new List<string>();
        long seen = 0;
        foreach (var text in texts)
        {
            if (string.IsNullOrEmpty(text)) continue;
            seen++;
            if (sample.Count < options.MaxTexts) sample.Add(text);
            else
            {
                long slot = (long)(random.NextUInt64() % (ulong)seen);
                if (slot < options.MaxTexts) sample[(int)slot] = text;
            }
            if (seen % 10_000 == 0) progress?.Report(new SubwordTrainingProgress(SubwordTrainingStage.Reading, seen, 0));
        }
        progress?.Report(new SubwordTrainingProgress(SubwordTrainingStage.Read, seen, sample.Count));
        return sample;
    }

    /// <summary>Word frequencies, words as the SentencePiece encoder will see them: U+2581 first, spaces as U+2581, lone surrogates as U+FFFD.</summary>
    private static Dictionary<string, long> CountWords(List<string> sample)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var normalized = new StringBuilder();
        foreach (var raw in sample)
        {
            string text = TextTokenizer.WithoutLoneSurrogates(raw);
            normalized.Clear().Append(SentencePieceModelFile.WordBoundary).Append(text).Replace(' ', SentencePieceModelFile.WordBoundary);
            string all = normalized.ToString();
            int start = 0;
            while (start < all.Length)
            {
                int end = all.IndexOf(SentencePieceModelFile.WordBoundary, start + 1);
                if (end < 0) end = all.Length;
                var word = all.AsSpan(start, end - start);
                lookup[word] = lookup.TryGetValue(word, out long count) ? count + 1 : 1;
                start = end;
            }
        }
        return counts;
    }

    /// <summary>The characters that get a piece: the most frequent first, up to the coverage and the room in the vocabulary; the word boundary always.</summary>
    private static List<string> KeptCharacters(Dictionary<string, long> words, SubwordTrainingOptions options)
    {
        var counts = new Dictionary<int, long>();
        foreach (var (word, frequency) in words)
            foreach (var rune in word.EnumerateRunes())
                counts[rune.Value] = counts.GetValueOrDefault(rune.Value) + frequency;
        long total = counts.Values.Sum();
        int room = options.VocabSize - FixedPieces;
        var kept = new List<string> { SentencePieceModelFile.WordBoundary.ToString() };
        long covered = counts.GetValueOrDefault(SentencePieceModelFile.WordBoundary);
        foreach (var (codePoint, count) in counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key))
        {
            if (codePoint == SentencePieceModelFile.WordBoundary) continue;
            if (kept.Count >= room || covered >= options.CharacterCoverage * total) break;
            kept.Add(char.ConvertFromUtf32(codePoint));
            covered += count;
        }
        return kept;
    }

    /// <summary>
    /// The merged pieces in merge order. Symbols are numbered: the kept characters first, then each new piece; -1
    /// is a character without a piece, which merges with nothing.
    /// </summary>
    private static List<string> Merge(Dictionary<string, long> wordCounts, List<string> characters, SubwordTrainingOptions options, IProgress<SubwordTrainingProgress>? progress)
    {
        var symbolText = new List<string>(characters);
        var symbolIds = characters.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var words = new List<int[]>(wordCounts.Count);
        var frequencies = new List<long>(wordCounts.Count);
        foreach (var (word, frequency) in wordCounts)
        {
            words.Add([.. word.EnumerateRunes().Select(rune => symbolIds.GetValueOrDefault(rune.ToString(), -1))]);
            frequencies.Add(frequency);
        }

        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        var queue = new PriorityQueue<long, (long Count, long Pair)>(PairOrder.Instance);
        var newPairs = new HashSet<long>();
        for (int w = 0; w < words.Count; w++) AddPairs(w, +1);
        foreach (var (pair, count) in pairCounts) queue.Enqueue(pair, (count, pair));

        int planned = options.VocabSize - FixedPieces - characters.Count;
        var merged = new List<string>(Math.Max(planned, 0));
        while (merged.Count < planned && queue.TryDequeue(out long best, out var queued))
        {
            long current = pairCounts.GetValueOrDefault(best);
            if (current != queued.Count)
            {
                // Counts only fall without a fresh entry; a pair whose count rose was queued again when it rose.
                if (current > 0 && current < queued.Count) queue.Enqueue(best, (current, best));
                continue;
            }
            // A pair seen once would only memorise one spelling of the corpus.
            if (current < 2) break;
            int left = (int)(best >> 32), right = (int)(uint)best;
            string text = symbolText[left] + symbolText[right];
            if (text.Length > options.MaxPieceLength || CouldSpellSpecialPiece(text))
            {
                pairCounts.Remove(best);
                continue;
            }
            if (!symbolIds.TryGetValue(text, out int symbol))
            {
                symbol = symbolText.Count;
                symbolText.Add(text);
                symbolIds.Add(text, symbol);
                merged.Add(text);
                if (merged.Count % Math.Max(1, planned / 100) == 0) progress?.Report(new SubwordTrainingProgress(SubwordTrainingStage.Merging, merged.Count, planned));
            }
            newPairs.Clear();
            foreach (int w in pairWords[best].ToArray())
            {
                AddPairs(w, -1);
                words[w] = Replace(words[w], left, right, symbol);
                AddPairs(w, +1);
            }
            pairCounts.Remove(best);
            pairWords.Remove(best);
            foreach (long pair in newPairs.Order())
                if (pairCounts.TryGetValue(pair, out long count) && count > 0) queue.Enqueue(pair, (count, pair));
        }
        progress?.Report(new SubwordTrainingProgress(SubwordTrainingStage.Merged, merged.Count, planned));
        return merged;

        void AddPairs(int w, int sign)
        {
            int[] symbols = words[w];
            long frequency = frequencies[w] * sign;
            for (int i = 1; i < symbols.Length; i++)
            {
                if (symbols[i - 1] < 0 || symbols[i] < 0) continue;
                long pair = ((long)symbols[i - 1] << 32) | (uint)symbols[i];
                long count = pairCounts.GetValueOrDefault(pair) + frequency;
                if (count <= 0) pairCounts.Remove(pair); else pairCounts[pair] = count;
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(pair, out var holders)) pairWords[pair] = holders = [];
                    holders.Add(w);
                    newPairs.Add(pair);
                }
            }
        }
    }

    /// <summary>The word with each occurrence of the pair, left to right without overlap, as one symbol.</summary>
    private static int[] Replace(int[] symbols, int left, int right, int merged)
    {
        var result = new List<int>(symbols.Length);
        for (int i = 0; i < symbols.Length; i++)
        {
            if (i + 1 < symbols.Length && symbols[i] == left && symbols[i + 1] == right) { result.Add(merged); i++; }
            else result.Add(symbols[i]);
        }
        return [.. result];
    }

    /// <summary>
    /// Whether the piece begins or ends one of the special or byte pieces (&lt;s&gt;, &lt;0x41&gt;...): with such pieces a
    /// SentencePiece encoder could join the characters of "&lt;s&gt;" in a text into the control piece itself.
    /// </summary>
    private static bool CouldSpellSpecialPiece(string piece) =>
        SpecialPieces.Any(special => special.Length > piece.Length && (special.StartsWith(piece, StringComparison.Ordinal) || special.EndsWith(piece, StringComparison.Ordinal)));

    private static SentencePieceModelFile BuildModel(List<string> characters, List<string> merged, SubwordTrainingOptions options)
    {
        var pieces = new List<SentencePieceEntry>(FixedPieces + merged.Count + characters.Count)
        {
            new("<unk>", 0, SentencePieceType.Unknown),
            new("<s>", 0, SentencePieceType.Control),
            new("</s>", 0, SentencePieceType.Control),
        };
        pieces.AddRange(Enumerable.Range(0, 256).Select(b => new SentencePieceEntry($"<0x{b:X2}>", 0, SentencePieceType.Byte)));
        // SentencePiece's BPE scores: earlier merges higher, so an encoder redoes them in training order; characters last.
        pieces.AddRange(merged.Select((piece, rank) => new SentencePieceEntry(piece, -rank, SentencePieceType.Normal)));
        pieces.AddRange(characters.Select((piece, rank) => new SentencePieceEntry(piece, -(merged.Count + rank), SentencePieceType.Normal)));
        return new SentencePieceModelFile
        {
            Pieces = pieces,
            ModelType = SentencePieceModelFile.BpeModel,
            ByteFallback = true,
            UnknownId = 0,
            BeginningOfSentenceId = 1,
            EndOfSentenceId = 2,
            PadId = -1,
            CharacterCoverage = (float)options.CharacterCoverage,
            MaxPieceLength = options.MaxPieceLength,
            // Text is kept as it is: no Unicode normalisation and no collapsing of spaces, so every text decodes back to itself.
            NormalizerName = "identity",
            AddDummyPrefix = true,
            RemoveExtraWhitespaces = false,
            EscapeWhitespaces = true,
        };
    }

    /// <summary>Most frequent pair first; equal counts by pair number, so the result does not depend on the order of the queue.</summary>
    private sealed class PairOrder : IComparer<(long Count, long Pair)>
    {
        public static readonly PairOrder Instance = new();

        public int Compare((long Count, long Pair) x, (long Count, long Pair) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair);
    }
}
