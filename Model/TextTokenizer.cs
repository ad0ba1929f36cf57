using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Tokenizers;

namespace Platform.Model;

/// <summary>
/// GPT-2 byte-pair encoding restricted to the subwords that occur in the training data. The full
/// GPT-2 vocabulary has 50,257 entries, most of which a small model would never see; keeping only
/// seen subwords (the most frequent first, up to a capacity) shrinks the embedding and output
/// layers. The map from model ids to GPT-2 ids is the vocabulary: it is saved with every
/// checkpoint, so a checkpoint always decodes with the ids it was trained on.
/// Model ids 0..3 are <see cref="SpecialTokens"/>; GPT-2 subwords outside the map encode as Unknown.
/// </summary>
public sealed class TextTokenizer
{
    public const string Gpt2 = "gpt2";

    private static readonly Lazy<Tokenizer> Gpt2Bpe = new(() => TiktokenTokenizer.CreateForModel(Gpt2));

    private readonly Tokenizer bpe;
    private readonly int[] modelToBase;
    private readonly Dictionary<int, int> baseToModel;

    private TextTokenizer(Tokenizer bpe, string baseName, int[] modelToBase)
    {
        this.bpe = bpe;
        BaseName = baseName;
        this.modelToBase = modelToBase;
        baseToModel = modelToBase.Select((baseId, index) => (baseId, index)).ToDictionary(p => p.baseId, p => p.index + SpecialTokens.Count);
    }

    /// <summary>Name of the underlying subword model (only "gpt2" for now).</summary>
    public string BaseName { get; }

    /// <summary>Model vocabulary size, special tokens included: the model's <see cref="SimVlmConfig.VocabSize"/>.</summary>
    public int VocabSize => SpecialTokens.Count + modelToBase.Length;

    /// <summary>
    /// Builds the restricted vocabulary from training texts: every GPT-2 subword seen, most frequent
    /// first (ties by GPT-2 id, so the result does not depend on text order), at most
    /// <paramref name="maxVocabSize"/> ids in all.
    /// </summary>
    public static TextTokenizer BuildGpt2(IEnumerable<string> trainingTexts, int maxVocabSize)
    {
        if (maxVocabSize <= SpecialTokens.Count) throw new ArgumentOutOfRangeException(nameof(maxVocabSize), $"Must exceed the {SpecialTokens.Count} special tokens.");
        var counts = new Dictionary<int, long>();
        foreach (var text in trainingTexts)
            foreach (int id in Gpt2Bpe.Value.EncodeToIds(text))
                counts[id] = counts.GetValueOrDefault(id) + 1;
        int[] kept = counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key)
            .Take(maxVocabSize - SpecialTokens.Count).Select(p => p.Key).ToArray();
        return new TextTokenizer(Gpt2Bpe.Value, Gpt2, kept);
    }

    /// <summary>
    /// Model ids for a text, ending in <see cref="SpecialTokens.Eos"/>. Longer texts are cut to
    /// <paramref name="maxTokens"/> (end-of-text included) so that they fit the model.
    /// </summary>
    public int[] Encode(string text, int maxTokens = int.MaxValue)
    {
        if (maxTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), "At least the end-of-text token must fit.");
        var ids = bpe.EncodeToIds(text);
        int kept = Math.Min(ids.Count, maxTokens - 1);
        var result = new int[kept + 1];
        for (int i = 0; i < kept; i++) result[i] = baseToModel.TryGetValue(ids[i], out int id) ? id : SpecialTokens.Unknown;
        result[kept] = SpecialTokens.Eos;
        return result;
    }

    /// <summary>Model ids without the end-of-text token, e.g. a decoding prompt.</summary>
    public int[] EncodeWithoutEos(string text) => Encode(text)[..^1];

    /// <summary>Text for model ids up to the first end-of-text; padding, BOS and unknown ids are dropped.</summary>
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

    /// <summary>Writes the vocabulary (base name and id map) as JSON.</summary>
    public void Save(string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new VocabularyFile(BaseName, modelToBase), VocabularyFile.Options));

    public static TextTokenizer Load(string path)
    {
        var file = JsonSerializer.Deserialize<VocabularyFile>(File.ReadAllText(path), VocabularyFile.Options)
            ?? throw new InvalidDataException($"{path} holds no vocabulary.");
        if (file.Base != Gpt2) throw new InvalidDataException($"{path}: unknown base tokenizer '{file.Base}'; only '{Gpt2}' is supported.");
        if (file.BaseIds.Distinct().Count() != file.BaseIds.Length) throw new InvalidDataException($"{path}: the id map lists a GPT-2 id twice.");
        return new TextTokenizer(Gpt2Bpe.Value, file.Base, file.BaseIds);
    }

    private sealed record VocabularyFile(
        [property: JsonPropertyName("base")] string Base,
        [property: JsonPropertyName("base_ids")] int[] BaseIds)
    {
        public static readonly JsonSerializerOptions Options = new() { WriteIndented = false };
    }
}
