using System.Text.Json;
using TorchSharp.PyBridge;

namespace Platform.Model;

/// <summary>
/// Exports a model for use outside TorchSharp: weights as safetensors (in the model's dtype, named as in
/// <see cref="SimVlmModel"/>'s state dictionary), the shape as config.json and the tokenizer's id
/// map as vocabulary.json.
/// </summary>
public static class SafetensorsExport
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";
    public const string VocabularyFile = "vocabulary.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static void Export(SimVlmModel model, TextTokenizer tokenizer, string folder)
    {
        Directory.CreateDirectory(folder);
        model.save_safetensors(Path.Combine(folder, WeightsFile));
        File.WriteAllText(Path.Combine(folder, ConfigFile), JsonSerializer.Serialize(model.Config, Json));
        tokenizer.Save(Path.Combine(folder, VocabularyFile));
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
}
