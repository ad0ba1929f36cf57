using System.Collections.Concurrent;
using System.Text;

namespace Platform.Model;

/// <summary>
/// Encodes text with a SentencePiece BPE model with byte fallback, giving the same ids as
/// Microsoft.ML.Tokenizers' SentencePiece encoder (tests hold the two to that), but faster: SentencePiece merges the
/// pair of adjacent symbols whose joined piece scores highest, over the whole text; when no piece holds a word
/// boundary (U+2581) after its first character, no merge can cross one, so each word is merged on its own and the
/// result is cached per word, and merges are looked up by the pair of piece ids rather than by joining strings.
/// Models outside what this reproduces (see <see cref="TryCreate"/>) are left to Microsoft.ML.Tokenizers.
/// </summary>
internal sealed class SentencePieceBpeEncoder
{
    private const int MaxCachedWordLength = 64;
    private const int MaxCachedWords = 1 << 18;

    private readonly int[] bmpPieceIds;
    private readonly Dictionary<int, int> supplementaryPieceIds = [];
    private readonly Dictionary<long, (int Id, float Score)> merges = [];
    private readonly int byteOffset;
    private readonly int unknownId;
    private readonly ConcurrentDictionary<string, int[]> wordCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cachedWords;
    // ConcurrentDictionary.Count takes every lock of the table; the cache keeps its own count.
    private int cachedWordCount;

    [ThreadStatic] private static WordMerger? merger;

    private SentencePieceBpeEncoder(SentencePieceModelFile model, Dictionary<string, int> ids)
    {
        unknownId = model.UnknownId;
        byteOffset = ids["<0x00>"];
        bmpPieceIds = new int[char.MaxValue + 1];
        Array.Fill(bmpPieceIds, -1);
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            string piece = model.Pieces[id].Piece;
            if (SingleCodePoint(piece) is int codePoint)
            {
                if (codePoint <= char.MaxValue) bmpPieceIds[codePoint] = id;
                else supplementaryPieceIds[codePoint] = id;
            }
            // Every way of cutting the piece in two known pieces is a merge SentencePiece would make.
            for (int cut = 1; cut < piece.Length; cut++)
            {
                if (char.IsLowSurrogate(piece[cut])) continue;
                if (ids.TryGetValue(piece[..cut], out int left) && ids.TryGetValue(piece[cut..], out int right))
                    merges[Pair(left, right)] = (id, model.Pieces[id].Score);
            }
        }
        cachedWords = wordCache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>
    /// The encoder for a model, or null when the model uses something this encoder does not reproduce exactly: not
    /// BPE, no byte fallback, a normalisation beyond turning spaces into U+2581 behind a dummy prefix, unused or
    /// user-defined pieces, byte pieces out of order, a piece with a word boundary after its start, or a piece with a
    /// character that is no piece of its own.
    /// </summary>
    public static SentencePieceBpeEncoder? TryCreate(SentencePieceModelFile model)
    {
        if (model.ModelType != SentencePieceModelFile.BpeModel || !model.ByteFallback || model.HasPrecompiledCharsMap
            || !model.AddDummyPrefix || model.RemoveExtraWhitespaces || !model.EscapeWhitespaces || model.TreatWhitespaceAsSuffix)
            return null;
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var piece = model.Pieces[id];
            if (piece.Type is SentencePieceType.Unused or SentencePieceType.UserDefined || !ids.TryAdd(piece.Piece, id)) return null;
        }
        if (!ids.TryGetValue("<0x00>", out int byteOffset)) return null;
        for (int b = 0; b < 256; b++)
            if (byteOffset + b >= model.Pieces.Count || model.Pieces[byteOffset + b] is not { Type: SentencePieceType.Byte } bytePiece || bytePiece.Piece != $"<0x{b:X2}>")
                return null;
        if (model.UnknownId < 0 || model.UnknownId >= model.Pieces.Count) return null;
        foreach (var piece in model.Pieces)
        {
            if (piece.Type is not SentencePieceType.Normal) continue;
            if (piece.Piece.IndexOf(SentencePieceModelFile.WordBoundary, 1) >= 0) return null;
            foreach (var rune in piece.Piece.EnumerateRunes())
                if (!ids.ContainsKey(rune.ToString())) return null;
        }
        return new SentencePieceBpeEncoder(model, ids);
    }

    /// <summary>
    /// Appends the ids of <paramref name="text"/> (free of lone surrogates) to <paramref name="ids"/>, as the model's
    /// SentencePiece encoder gives them: a dummy word boundary first, every space as a word boundary.
    /// </summary>
    public void Encode(string text, List<int> ids)
    {
        if (text.Length == 0) return;
        merger ??= new WordMerger();
        char[] normalized = merger.Normalized(text.Length + 1);
        normalized[0] = SentencePieceModelFile.WordBoundary;
        for (int i = 0; i < text.Length; i++) normalized[i + 1] = text[i] == ' ' ? SentencePieceModelFile.WordBoundary : text[i];
        var all = normalized.AsSpan(0, text.Length + 1);
        int start = 0;
        while (start < all.Length)
        {
            int end = all[(start + 1)..].IndexOf(SentencePieceModelFile.WordBoundary);
            end = end < 0 ? all.Length : start + 1 + end;
            EncodeWord(all[start..end], ids);
            start = end;
        }
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (word.Length <= MaxCachedWordLength)
        {
            if (!cachedWords.TryGetValue(word, out var cached))
            {
                var encoded = new List<int>(word.Length);
                merger!.Merge(this, word, encoded);
                cached = [.. encoded];
                if (cachedWordCount >= MaxCachedWords)
                {
                    wordCache.Clear();
                    cachedWordCount = 0;
                }
                if (cachedWords.TryAdd(word, cached)) Interlocked.Increment(ref cachedWordCount);
            }
            ids.AddRange(cached);
        }
        else merger!.Merge(this, word, ids);
    }

    private int PieceId(ReadOnlySpan<char> character)
    {
        if (character.Length == 1) return bmpPieceIds[character[0]];
        return supplementaryPieceIds.GetValueOrDefault(char.ConvertToUtf32(character[0], character[1]), -1);
    }

    private static long Pair(int left, int right) => ((long)left << 32) | (uint)right;

    private static int? SingleCodePoint(string piece) =>
        piece.Length == 1 && !char.IsSurrogate(piece[0]) ? piece[0]
        : piece.Length == 2 && char.IsSurrogatePair(piece[0], piece[1]) ? char.ConvertToUtf32(piece[0], piece[1])
        : null;

    /// <summary>The merge state of one word, reused across words on a thread.</summary>
    private sealed class WordMerger
    {
        private char[] normalized = new char[256];
        private int[] start = new int[64], length = new int[64], id = new int[64], previous = new int[64], next = new int[64];
        private readonly PriorityQueue<Candidate, Candidate> agenda = new(CandidateOrder.Instance);
        private byte[] utf8 = new byte[16];

        public char[] Normalized(int size)
        {
            if (normalized.Length < size) normalized = new char[Math.Max(size, normalized.Length * 2)];
            return normalized;
        }

        public void Merge(SentencePieceBpeEncoder encoder, ReadOnlySpan<char> word, List<int> ids)
        {
            if (start.Length < word.Length)
            {
                int size = Math.Max(word.Length, start.Length * 2);
                start = new int[size]; length = new int[size]; id = new int[size]; previous = new int[size]; next = new int[size];
            }
            int count = 0;
            for (int i = 0; i < word.Length; count++)
            {
                int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
                start[count] = i; length[count] = width; id[count] = encoder.PieceId(word.Slice(i, width));
                previous[count] = count - 1; next[count] = count + 1;
                i += width;
            }
            next[count - 1] = -1;
            agenda.Clear();
            for (int i = 1; i < count; i++) Offer(encoder, i - 1, i);
            while (agenda.TryDequeue(out var top, out _))
            {
                // A pair queued before one of its symbols merged elsewhere no longer exists.
                if (length[top.Left] == 0 || length[top.Right] == 0 || length[top.Left] + length[top.Right] != top.Length) continue;
                length[top.Left] += length[top.Right];
                id[top.Left] = top.Id;
                next[top.Left] = next[top.Right];
                if (next[top.Right] >= 0) previous[next[top.Right]] = top.Left;
                length[top.Right] = 0;
                Offer(encoder, previous[top.Left], top.Left);
                Offer(encoder, top.Left, next[top.Left]);
            }
            for (int symbol = 0; symbol >= 0; symbol = next[symbol])
            {
                if (id[symbol] >= 0 && id[symbol] != encoder.unknownId) { ids.Add(id[symbol]); continue; }
                // Byte fallback: a character without a piece is spelled by the pieces of its UTF-8 bytes.
                var text = word.Slice(start[symbol], length[symbol]);
                if (utf8.Length < 3 * text.Length) utf8 = new byte[3 * text.Length];
                int written = Encoding.UTF8.GetBytes(text, utf8);
                for (int b = 0; b < written; b++) ids.Add(encoder.byteOffset + utf8[b]);
            }
        }

        private void Offer(SentencePieceBpeEncoder encoder, int left, int right)
        {
            if (left < 0 || right < 0 || id[left] < 0 || id[right] < 0) return;
            if (encoder.merges.TryGetValue(Pair(id[left], id[right]), out var merged))
            {
                var candidate = new Candidate(left, right, length[left] + length[right], merged.Id, merged.Score);
                agenda.Enqueue(candidate, candidate);
            }
        }
    }

    private readonly record struct Candidate(int Left, int Right, int Length, int Id, float Score);

    /// <summary>Highest score first; among equal scores the rightmost pair, the order Microsoft.ML.Tokenizers' queue takes them in.</summary>
    private sealed class CandidateOrder : IComparer<Candidate>
    {
        public static readonly CandidateOrder Instance = new();

        public int Compare(Candidate x, Candidate y) => x.Score != y.Score ? y.Score.CompareTo(x.Score) : y.Left.CompareTo(x.Left);
    }
}
