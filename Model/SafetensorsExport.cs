using static System.FormattableString;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp.PyBridge;

namespace Platform.Model;

/// <summary>
/// Exports a model for use outside TorchSharp (`platform export`): weights as safetensors (in the
/// model's dtype, named as in <see cref="SimVlmModel"/>'s state dictionary), the shape and special
/// tokens as config.json, the tokenizer in its field's standard files (GPT-2's vocab.json and
/// merges.txt, or SentencePiece's .model file with the map to the model's ids), the platform's own
/// vocabulary.json (which <see cref="Load"/> reads back exactly, byte fallback included) and a
/// README.md that lists every tensor.
/// </summary>
public static class SafetensorsExport
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";
    public const string VocabularyFile = "vocabulary.json";
    public const string Gpt2VocabFile = "vocab.json";
    public const string Gpt2MergesFile = "merges.txt";
    public const string SentencePieceModelFile = "tokenizer.model";
    public const string SentencePieceIdsFile = "sentencepiece_ids.json";
    public const string ReadmeFile = "README.md";

    /// <summary>Names of the special tokens in the exported vocabularies, by model id; end-of-text has GPT-2's name.</summary>
    public static readonly IReadOnlyList<string> SpecialTokenNames = ["<pad>", "<bos>", "<|endoftext|>", "<unk>"];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes the export into <paramref name="folder"/> (created if needed) and returns the files written.</summary>
    public static IReadOnlyList<string> Export(SimVlmModel model, TextTokenizer tokenizer, string folder)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        string Write(string name, Action<string> write)
        {
            string path = Path.Combine(folder, name);
            write(path);
            written.Add(path);
            return path;
        }

        Write(WeightsFile, path => model.save_safetensors(path));
        Write(ConfigFile, path => File.WriteAllText(path, Config(model, tokenizer).ToJsonString(Json)));
        Write(VocabularyFile, tokenizer.Save);
        if (tokenizer.SentencePieceModel is { } sentencePiece)
        {
            Write(SentencePieceModelFile, path => File.WriteAllBytes(path, sentencePiece.ToArray()));
            Write(SentencePieceIdsFile, path => File.WriteAllText(path, JsonSerializer.Serialize(tokenizer.BaseIds)));
        }
        else
        {
            Write(Gpt2VocabFile, path => File.WriteAllText(path, Gpt2Vocab(tokenizer).ToJsonString()));
            Write(Gpt2MergesFile, WriteGpt2Merges);
        }
        Write(ReadmeFile, path => File.WriteAllText(path, Readme(model, tokenizer)));
        return written;
    }

    /// <summary>Rebuilds an exported model (evaluation mode) and its tokenizer.</summary>
    public static (SimVlmModel Model, TextTokenizer Tokenizer) Load(string folder)
    {
        var config = JsonSerializer.Deserialize<SimVlmConfig>(File.ReadAllText(Path.Combine(folder, ConfigFile)), Json)
            ?? throw new InvalidDataException($"{folder}/{ConfigFile} is empty.");
        var model = new SimVlmModel(config);
        model.load_safetensors(Path.Combine(folder, WeightsFile));
        model.eval();
        return (model, TextTokenizer.Load(Path.Combine(folder, VocabularyFile)));
    }

    /// <summary>The model's <see cref="SimVlmConfig"/> (which <see cref="Load"/> reads back) with what a reader outside the platform also needs.</summary>
    private static JsonObject Config(SimVlmModel model, TextTokenizer tokenizer)
    {
        var config = JsonSerializer.SerializeToNode(model.Config, Json)!.AsObject();
        config["ModelType"] = "simvlm";
        config["ImageTokens"] = model.Config.ImageTokens;
        config["Parameters"] = model.ParameterCount();
        config["Tokenizer"] = tokenizer.SentencePieceModel is null ? TextTokenizer.Gpt2 : TextTokenizer.SentencePiece;
        config["SpecialTokens"] = new JsonObject(SpecialTokenNames.Select((name, id) => KeyValuePair.Create(name, (JsonNode?)id)));
        return config;
    }

    /// <summary>
    /// GPT-2's vocab.json for the model's ids: each kept subword spelled as GPT-2 spells it, with its
    /// model id. GPT-2's merges then split any text as the platform's tokenizer does, and a subword the
    /// model never kept is "&lt;unk&gt;".
    /// </summary>
    private static JsonObject Gpt2Vocab(TextTokenizer tokenizer)
    {
        var vocab = new JsonObject();
        for (int id = 0; id < SpecialTokenNames.Count; id++) vocab[SpecialTokenNames[id]] = id;
        for (int i = 0; i < tokenizer.BaseIds.Count; i++)
        {
            // Text that spells "<|endoftext|>" is GPT-2's end-of-text token to any GPT-2 tokenizer: the model's own end-of-text stands for it.
            if (tokenizer.BaseIds[i] == Gpt2Vocabulary.EndOfText) continue;
            string spelling = Gpt2Vocabulary.Spelling(Gpt2Vocabulary.Bytes(tokenizer.BaseIds[i]));
            if (vocab.ContainsKey(spelling)) throw new InvalidDataException($"The exported vocabulary would spell two ids as '{spelling}'.");
            vocab[spelling] = SpecialTokens.Count + i;
        }
        return vocab;
    }

    private static void WriteGpt2Merges(string path)
    {
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false)) { NewLine = "\n" };
        writer.WriteLine("#version: 0.2");
        foreach (var (left, right) in Gpt2Vocabulary.Merges())
            writer.WriteLine($"{Gpt2Vocabulary.Spelling(Gpt2Vocabulary.Bytes(left))} {Gpt2Vocabulary.Spelling(Gpt2Vocabulary.Bytes(right))}");
    }

    private static string Readme(SimVlmModel model, TextTokenizer tokenizer)
    {
        var config = model.Config;
        var text = new StringBuilder();
        text.AppendLine("# SimVLM export").AppendLine();
        text.AppendLine(string.Concat(
            Invariant($"A SimVLM encoder-decoder (arXiv 2108.10904) trained with PrefixLM by the SimVLM platform: {model.ParameterCount():N0} parameters, "),
            Invariant($"{config.ImageSize}x{config.ImageSize} RGB images cut into {config.PatchSize}x{config.PatchSize} patches ({config.ImageTokens} image tokens) by a ResNet stem, "),
            Invariant($"width {config.Width}, {config.EncoderLayers} encoder and {config.DecoderLayers} decoder layers, {config.Heads} heads, MLP width {config.MlpWidth}, "),
            Invariant($"{config.VocabSize} text ids, texts of at most {config.MaxTextLength} tokens.")));
        text.AppendLine();
        text.AppendLine("| file | what |").AppendLine("| --- | --- |");
        text.AppendLine($"| `{WeightsFile}` | the weights (safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte range, then the data) |");
        text.AppendLine($"| `{ConfigFile}` | the model's shape, its special token ids and its tokenizer's kind |");
        if (tokenizer.SentencePieceModel is null)
        {
            text.AppendLine($"| `{Gpt2VocabFile}`, `{Gpt2MergesFile}` | the tokenizer as GPT-2's byte-level BPE files: the merges are GPT-2's, the vocabulary holds the subwords the model kept with the model's ids (e.g. `GPT2TokenizerFast(vocab_file=\"{Gpt2VocabFile}\", merges_file=\"{Gpt2MergesFile}\", unk_token=\"<unk>\", bos_token=\"<bos>\", eos_token=\"<|endoftext|>\", pad_token=\"<pad>\")`) |");
        }
        else
        {
            text.AppendLine($"| `{SentencePieceModelFile}` | the SentencePiece model the tokenizer is built on |");
            text.AppendLine($"| `{SentencePieceIdsFile}` | the SentencePiece piece id of each model id from {SpecialTokens.Count} on (a piece not listed is `<unk>`) |");
        }
        text.AppendLine($"| `{VocabularyFile}` | the platform's own vocabulary file (`TextTokenizer.Load`) |");
        text.AppendLine();
        text.AppendLine($"Special tokens: {string.Join(", ", SpecialTokenNames.Select((name, id) => $"`{name}` = {id}"))}. A text is encoded without " +
            "`<bos>` and ends with `<|endoftext|>`; the decoder's input starts with `<bos>`. Pixels are scaled to [-1, 1] ((value / 255 - 0.5) / 0.5), channels first.");
        if (tokenizer.SentencePieceModel is null)
            text.AppendLine().AppendLine("The platform spells a subword the model never kept with its single-byte subwords when the vocabulary holds them (byte fallback); " +
                "GPT-2's files cannot express that, so a tokenizer built from them gives `<unk>` there instead. Texts made of kept subwords encode identically.");
        text.AppendLine().AppendLine("## Tensors").AppendLine();
        text.AppendLine("| name | dtype | shape |").AppendLine("| --- | --- | --- |");
        foreach (var (name, tensor) in model.state_dict())
            text.AppendLine($"| `{name}` | {tensor.dtype} | [{string.Join(", ", tensor.shape)}] |");
        return text.ToString();
    }
}
