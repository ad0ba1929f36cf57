using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Tokenizers;

namespace Platform.Model;

/// <summary>
/// A subword tokenizer (GPT-2 byte-pair encoding, or a SentencePiece model) restricted to the
/// subwords that occur in the training data. The full GPT-2 vocabulary has 50,257 entries, most of
/// which a small model would never see; keeping only seen subwords (the most frequent first, up to a
/// capacity) shrinks the embedding and output layers. The map from model ids to base tokenizer ids
/// is the vocabulary: it is saved with every checkpoint (with the SentencePiece model itself, when
/// one is used), so a checkpoint always decodes with the tokenizer and ids it was trained on.
/// Model ids 0..3 are <see cref="SpecialTokens"/>. A GPT-2 subword outside the map is spelled with
/// the single-byte subwords of its bytes when the map holds them all (byte fallback: with all 256, as
/// <see cref="BuildGpt2"/> keeps when asked, no text encodes as Unknown); otherwise, and for
/// SentencePiece pieces outside the map, it encodes as Unknown. A SentencePiece model with byte fallback (as
/// <see cref="SentencePieceBpeTrainer"/> trains on the corpus) is kept whole instead: its vocabulary was chosen for
/// the corpus, and its byte pieces spell every text, so nothing encodes as Unknown.
/// </summary>
public sealed class TextTokenizer
{
    public const string Gpt2 = "gpt2";
    public const string SentencePiece = "sentencepiece";

    private static readonly Lazy<Tokenizer> Gpt2Bpe = new(() => TiktokenTokenizer.CreateForModel(Gpt2));

    private readonly Tokenizer bpe;
    private readonly byte[]? sentencePieceModel;
    private readonly int baseUnknownId;
    private readonly int[] modelToBase;
    /// <summary>Model id by base id; -1 for base ids outside the vocabulary.</summary>
    private readonly int[] baseToModel;
    private readonly bool byteLevel;
    /// <summary>The platform's own encoder for the SentencePiece model, where it reproduces Microsoft.ML.Tokenizers' exactly; null otherwise.</summary>
    private readonly SentencePieceBpeEncoder? ownEncoder;

    private TextTokenizer(Tokenizer bpe, string baseName, byte[]? sentencePieceModel, int[] modelToBase)
    {
        this.bpe = bpe;
        BaseName = baseName;
        this.sentencePieceModel = sentencePieceModel;
        // SentencePiece encodes characters outside its pieces as its own unknown id; GPT-2's bytes cover every text.
        baseUnknownId = bpe is SentencePieceTokenizer sentencePiece ? sentencePiece.UnknownId : -1;
        this.modelToBase = modelToBase;
        baseToModel = new int[modelToBase.Length == 0 ? 0 : modelToBase.Max() + 1];
        Array.Fill(baseToModel, -1);
        for (int index = 0; index < modelToBase.Length; index++) baseToModel[modelToBase[index]] = index + SpecialTokens.Count;
        byteLevel = baseName == Gpt2;
        if (sentencePieceModel is not null) ownEncoder = SentencePieceBpeEncoder.TryCreate(SentencePieceModelFile.Parse(sentencePieceModel));
    }

    /// <summary>Name of the underlying subword model: <see cref="Gpt2"/> or <see cref="SentencePiece"/>.</summary>
    public string BaseName { get; }

    /// <summary>Model vocabulary size, special tokens included: the model's <see cref="SimVlmConfig.VocabSize"/>.</summary>
    public int VocabSize => SpecialTokens.Count + modelToBase.Length;

    /// <summary>The base tokenizer's id of each model id from <see cref="SpecialTokens.Count"/> on, in model id order.</summary>
    public IReadOnlyList<int> BaseIds => modelToBase;

    /// <summary>The SentencePiece model (a serialised ModelProto, as a .model file holds it); null for GPT-2.</summary>
    public ReadOnlyMemory<byte>? SentencePieceModel => sentencePieceModel is null ? default(ReadOnlyMemory<byte>?) : sentencePieceModel;

    /// <summary>
    /// Builds the restricted vocabulary from training texts: every GPT-2 subword seen, most frequent
    /// first (ties by GPT-2 id, so the result does not depend on text order), at most
    /// <paramref name="maxVocabSize"/> ids in all. With <paramref name="allBytes"/> the 256 single-byte
    /// subwords come first whether seen or not, so that byte fallback spells every text and none encodes
    /// as Unknown.
    /// </summary>
    public static TextTokenizer BuildGpt2(IEnumerable<string> trainingTexts, int maxVocabSize, bool allBytes = false) =>
        Build(Gpt2Bpe.Value, Gpt2, null, trainingTexts, maxVocabSize,
            allBytes ? [.. Enumerable.Range(0, 256).Select(b => Gpt2Vocabulary.ByteId((byte)b))] : []);

    /// <summary>
    /// As <see cref="BuildGpt2"/>, over the pieces of a SentencePiece model (the serialised
    /// ModelProto that SentencePiece's trainer writes as a .model file; BPE and unigram models).
    /// </summary>
    public static TextTokenizer BuildSentencePiece(byte[] model, IEnumerable<string> trainingTexts, int maxVocabSize) =>
        Build(LoadSentencePiece(model), SentencePiece, model, trainingTexts, maxVocabSize, []);

    /// <summary>
    /// The whole vocabulary of a SentencePiece model with byte fallback, such as <see cref="SentencePieceBpeTrainer"/>
    /// writes: every piece but the unknown and control pieces, in the model's order, with no pass over the corpus.
    /// </summary>
    public static TextTokenizer FromByteFallbackSentencePiece(byte[] model, string source = "the SentencePiece model")
    {
        var tokenizer = LoadSentencePiece(model, source);
        var file = SentencePieceModelFile.Parse(model);
        if (!file.ByteFallback) throw new InvalidDataException($"{source} has no byte fallback, so some texts would encode as unknown: train one with `platform tokenizer train`.");
        int[] kept = [.. Enumerable.Range(0, file.Pieces.Count).Where(id => file.Pieces[id].Type is not (SentencePieceType.Unknown or SentencePieceType.Control or SentencePieceType.Unused))];
        return new TextTokenizer(tokenizer, SentencePiece, model, kept);
    }

    /// <summary>
    /// The tokenizer a training run asks for: "gpt2", or "sentencepiece:PATH" for the SentencePiece
    /// model file at PATH. A model with byte fallback (what `platform tokenizer train` writes) is used whole, whatever
    /// <paramref name="maxVocabSize"/> says, and the training texts are not read; any other is cut down to the pieces
    /// the texts use, as <see cref="BuildSentencePiece"/> does.
    /// </summary>
    public static TextTokenizer Build(string choice, IEnumerable<string> trainingTexts, int maxVocabSize)
    {
        if (choice == Gpt2) return BuildGpt2(trainingTexts, maxVocabSize);
        if (choice.StartsWith(SentencePiece + ":", StringComparison.Ordinal))
        {
            string path = choice[(SentencePiece.Length + 1)..];
            if (!File.Exists(path))
                throw new FileNotFoundException($"No SentencePiece model at {path}: give the .model file SentencePiece's trainer wrote, or '{Gpt2}'.", path);
            byte[] model = File.ReadAllBytes(path);
            var sentencePiece = LoadSentencePiece(model, path);
            if (SentencePieceModelFile.Parse(model).ByteFallback) return FromByteFallbackSentencePiece(model, path);
            return Build(sentencePiece, SentencePiece, model, trainingTexts, maxVocabSize, []);
        }
        throw new ArgumentException($"Unknown tokenizer '{choice}'; expected '{Gpt2}' or '{SentencePiece}:PATH'.", nameof(choice));
    }

    private static TextTokenizer Build(Tokenizer bpe, string baseName, byte[]? sentencePieceModel, IEnumerable<string> trainingTexts, int maxVocabSize, int[] alwaysKept)
    {
        if (maxVocabSize <= SpecialTokens.Count + alwaysKept.Length)
            throw new ArgumentOutOfRangeException(nameof(maxVocabSize), $"Must exceed the {SpecialTokens.Count} special tokens and the {alwaysKept.Length} subwords always kept.");
        int unknown = bpe is SentencePieceTokenizer sentencePiece ? sentencePiece.UnknownId : -1;
        var counts = new Dictionary<int, long>();
        foreach (var text in trainingTexts)
            foreach (int id in bpe.EncodeToIds(text))
                if (id != unknown) counts[id] = counts.GetValueOrDefault(id) + 1;
        foreach (int id in alwaysKept) counts.Remove(id);
        int[] kept = [.. alwaysKept, .. counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key)
            .Take(maxVocabSize - SpecialTokens.Count - alwaysKept.Length).Select(p => p.Key)];
        return new TextTokenizer(bpe, baseName, sentencePieceModel, kept);
    }

    private static SentencePieceTokenizer LoadSentencePiece(byte[] model, string source = "the SentencePiece model")
    {
        try
        {
            // No BOS or EOS from SentencePiece: the model's own special tokens frame the text.
            return SentencePieceTokenizer.Create(new MemoryStream(model, writable: false), addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source} is not a usable SentencePiece model ({e.Message}): give the .model file SentencePiece's trainer wrote.", e);
        }
    }

    /// <summary>
    /// Model ids for a text, ending in <see cref="SpecialTokens.Eos"/>. Longer texts are cut to
    /// <paramref name="maxTokens"/> (end-of-text included) so that they fit the model.
    /// </summary>
    public int[] Encode(string text, int maxTokens = int.MaxValue)
    {
        if (maxTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), "At least the end-of-text token must fit.");
        text = WithoutLoneSurrogates(text);
        IReadOnlyList<int> ids;
        if (ownEncoder is null) ids = bpe.EncodeToIds(text);
        else
        {
            var encoded = new List<int>(text.Length / 3 + 8);
            ownEncoder.Encode(text, encoded);
            ids = encoded;
        }
        var result = new List<int>(Math.Min(ids.Count, maxTokens - 1) + 1);
        foreach (int baseId in ids)
        {
            if (result.Count >= maxTokens - 1) break;
            int id = ModelId(baseId);
            if (baseId != baseUnknownId && id >= 0) result.Add(id);
            else if (!AddBytes(baseId, result)) result.Add(SpecialTokens.Unknown);
        }
        if (result.Count > maxTokens - 1) result.RemoveRange(maxTokens - 1, result.Count - (maxTokens - 1));
        result.Add(SpecialTokens.Eos);
        return [.. result];
    }

    /// <summary>
    /// The text with each unpaired surrogate as U+FFFD, as UTF-8 writes it: GPT-2's encoder would
    /// otherwise spell one as three bytes that are no UTF-8, and decode them as three U+FFFD.
    /// </summary>
    internal static string WithoutLoneSurrogates(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
        }
        return text;
    }

    /// <summary>Byte fallback: the model ids of a GPT-2 subword's bytes, when the vocabulary holds every one of them.</summary>
    private bool AddBytes(int baseId, List<int> result)
    {
        if (!byteLevel) return false;
        var bytes = Gpt2Vocabulary.Bytes(baseId);
        if (bytes.IsEmpty) return false;
        foreach (byte b in bytes)
            if (ModelId(Gpt2Vocabulary.ByteId(b)) < 0) return false;
        foreach (byte b in bytes) result.Add(ModelId(Gpt2Vocabulary.ByteId(b)));
        return true;
    }

    private int ModelId(int baseId) => (uint)baseId < (uint)baseToModel.Length ? baseToModel[baseId] : -1;

    /// <summary>Whether <see cref="Encode"/> uses the platform's own encoder rather than Microsoft.ML.Tokenizers'.</summary>
    public bool UsesOwnEncoder => ownEncoder is not null;

    /// <summary>Model ids without the end-of-text token, e.g. a decoding prompt.</summary>
    public int[] EncodeWithoutEos(string text) => Encode(text)[..^1];

    /// <summary>
    /// Text for model ids up to the first end-of-text; padding, BOS and unknown ids are dropped. The
    /// subwords' bytes are decoded as one sequence, so a character whose bytes span several subwords
    /// comes out whole; bytes that form no character (a model can generate them) become U+FFFD.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        var baseIds = new List<int>();
        foreach (int id in ids)
        {
            if (id == SpecialTokens.Eos) break;
            if (id >= SpecialTokens.Count && id < VocabSize) baseIds.Add(modelToBase[id - SpecialTokens.Count]);
        }
        return bpe.Decode(baseIds);
    }

    /// <summary>Decodes ids one at a time as a model generates them; see <see cref="StreamingTextDecoder"/>.</summary>
    public StreamingTextDecoder StartDecoding() => new(this);

    /// <summary>Writes the vocabulary (base name, id map and any SentencePiece model) as one JSON file.</summary>
    public void Save(string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(
            new VocabularyFile(BaseName, modelToBase, sentencePieceModel is null ? null : Convert.ToBase64String(sentencePieceModel)), VocabularyFile.Options));

    public static TextTokenizer Load(string path)
    {
        VocabularyFile? read;
        try
        {
            read = JsonSerializer.Deserialize<VocabularyFile>(File.ReadAllText(path), VocabularyFile.Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a vocabulary file ({e.Message}): the checkpoint's tokenizer is damaged; give an older checkpoint of the run or train again.", e);
        }
        var file = read ?? throw new InvalidDataException($"{path} holds no vocabulary.");
        if (file.BaseIds.Distinct().Count() != file.BaseIds.Length) throw new InvalidDataException($"{path}: the id map lists a base id twice.");
        // Ids index a table as large as the largest of them; no base tokenizer has ids outside this range.
        if (file.BaseIds.Any(id => id is < 0 or >= 1 << 24)) throw new InvalidDataException($"{path}: the id map holds an id that no base tokenizer has.");
        switch (file.Base)
        {
            case Gpt2:
                return new TextTokenizer(Gpt2Bpe.Value, Gpt2, null, file.BaseIds);
            case SentencePiece:
                byte[] model = Convert.FromBase64String(file.SentencePieceModel ?? throw new InvalidDataException($"{path}: a SentencePiece vocabulary without its model."));
                return new TextTokenizer(LoadSentencePiece(model), SentencePiece, model, file.BaseIds);
            default:
                throw new InvalidDataException($"{path}: unknown base tokenizer '{file.Base}'; expected '{Gpt2}' or '{SentencePiece}'.");
        }
    }

    private sealed record VocabularyFile(
        [property: JsonPropertyName("base")] string Base,
        [property: JsonPropertyName("base_ids")] int[] BaseIds,
        [property: JsonPropertyName("sentencepiece_model"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SentencePieceModel = null)
    {
        public static readonly JsonSerializerOptions Options = new() { WriteIndented = false };
    }
}
