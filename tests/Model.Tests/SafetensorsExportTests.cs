using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

public sealed class SafetensorsExportTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-export-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void ExportedModelReloadsWithIdenticalOutputs()
    {
        using var scope = NewDisposeScope();
        var tokenizer = TextTokenizer.BuildGpt2(["a red bus", "a blue car"], 100);
        var config = TestModels.Micro with { VocabSize = tokenizer.VocabSize };
        var model = TestModels.NewModel(config, 31);
        var random = new DeterministicRandom(31);
        using var batch = PrefixLm.Build([TestModels.ImageTextSample(config, random, 5)], [1], config);
        var expected = TestModels.Values(model.Forward(batch));

        SafetensorsExport.Export(model, tokenizer, folder);
        manual_seed(99); // the reloaded model starts from other random weights
        var (reloaded, reloadedTokenizer) = SafetensorsExport.Load(folder);

        Assert.Equal(expected, TestModels.Values(reloaded.Forward(batch)));
        Assert.Equal(config.StageDepths, reloaded.Config.StageDepths);
        Assert.Equal(config with { StageDepths = reloaded.Config.StageDepths }, reloaded.Config);
        Assert.Equal(tokenizer.Encode("a red car"), reloadedTokenizer.Encode("a red car"));
        Assert.True(new FileInfo(Path.Combine(folder, SafetensorsExport.WeightsFile)).Length > 4 * model.ParameterCount());
    }

    private static readonly string[] Captions = ["A red bus parked on the street.", "Two “quoted” dogs play in the park; 東京 at night.", "a blue car"];

    [Theory]
    [InlineData(ScalarType.Float32, "F32", 4)]
    [InlineData(ScalarType.BFloat16, "BF16", 2)]
    public void EveryTensorIsInTheSafetensorsFileWithItsShapeDtypeAndBytes(ScalarType dtype, string safetensorsDtype, int bytesPerElement)
    {
        using var scope = NewDisposeScope();
        var tokenizer = TextTokenizer.BuildGpt2(Captions, 100);
        var model = TestModels.NewModel(TestModels.Micro with { VocabSize = tokenizer.VocabSize }, 5);
        model.to(dtype);
        SafetensorsExport.Export(model, tokenizer, folder);

        // The format read by hand: an 8-byte little-endian header length, a JSON header, then the data.
        byte[] file = File.ReadAllBytes(Path.Combine(folder, SafetensorsExport.WeightsFile));
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(file);
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var entries = header.RootElement.EnumerateObject().Where(e => e.Name != "__metadata__").ToDictionary(e => e.Name, e => e.Value);
        var expected = model.state_dict();

        Assert.Equal(expected.Keys.Order(), entries.Keys.Order());
        foreach (var (name, tensor) in expected)
        {
            var entry = entries[name];
            Assert.Equal(safetensorsDtype, entry.GetProperty("dtype").GetString());
            Assert.Equal(tensor.shape, entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray());
            long[] offsets = [.. entry.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64())];
            Assert.Equal(tensor.numel() * bytesPerElement, offsets[1] - offsets[0]);
            var stored = file.AsSpan((int)(8 + headerLength + offsets[0]), (int)(offsets[1] - offsets[0])).ToArray();
            Assert.Equal(tensor.contiguous().bytes.ToArray(), stored);
        }
        Assert.Equal(file.Length, 8 + headerLength + entries.Values.Max(e => e.GetProperty("data_offsets")[1].GetInt64()));

        string readme = File.ReadAllText(Path.Combine(folder, SafetensorsExport.ReadmeFile));
        Assert.All(expected, pair => Assert.Contains($"| `{pair.Key}` | {dtype} | [{string.Join(", ", pair.Value.shape)}] |", readme));
    }

    [Fact]
    public void ConfigHoldsThePresetsSizesAndTheSpecialTokens()
    {
        using var scope = NewDisposeScope();
        var tokenizer = TextTokenizer.BuildGpt2(Captions, 100);
        var config = TestModels.Micro with { VocabSize = tokenizer.VocabSize };
        SafetensorsExport.Export(TestModels.NewModel(config, 5), tokenizer, folder);

        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, SafetensorsExport.ConfigFile))).RootElement;
        Assert.Equal((config.ImageSize, config.PatchSize, config.Width, config.EncoderLayers, config.DecoderLayers, config.Heads, config.MlpWidth, config.VocabSize, config.MaxTextLength),
            (json.GetProperty("ImageSize").GetInt32(), json.GetProperty("PatchSize").GetInt32(), json.GetProperty("Width").GetInt32(), json.GetProperty("EncoderLayers").GetInt32(),
             json.GetProperty("DecoderLayers").GetInt32(), json.GetProperty("Heads").GetInt32(), json.GetProperty("MlpWidth").GetInt32(), json.GetProperty("VocabSize").GetInt32(),
             json.GetProperty("MaxTextLength").GetInt32()));
        Assert.Equal(config.ImageTokens, json.GetProperty("ImageTokens").GetInt32());
        Assert.Equal(SpecialTokens.Eos, json.GetProperty("SpecialTokens").GetProperty("<|endoftext|>").GetInt32());
        Assert.Equal(SpecialTokens.Unknown, json.GetProperty("SpecialTokens").GetProperty("<unk>").GetInt32());
    }

    [Fact]
    public void TheExportedGpt2FilesEncodeAsThePlatformsTokenizerInAnotherImplementation()
    {
        var tokenizer = TextTokenizer.BuildGpt2(Captions, 200);
        using (var scope = NewDisposeScope())
            SafetensorsExport.Export(TestModels.NewModel(TestModels.Micro with { VocabSize = tokenizer.VocabSize }, 5), tokenizer, folder);

        // Microsoft.ML.Tokenizers' reader of GPT-2-style vocab.json + merges.txt (the CodeGen family's byte-level BPE).
        using var vocab = File.OpenRead(Path.Combine(folder, SafetensorsExport.Gpt2VocabFile));
        using var merges = File.OpenRead(Path.Combine(folder, SafetensorsExport.Gpt2MergesFile));
        var other = CodeGenTokenizer.Create(vocab, merges, addPrefixSpace: false, addBeginOfSentence: false, addEndOfSentence: false);
        foreach (var caption in Captions)
        {
            Assert.Equal(tokenizer.EncodeWithoutEos(caption), other.EncodeToIds(caption));
            Assert.Equal(caption, other.Decode(tokenizer.EncodeWithoutEos(caption)));
        }
        Assert.Equal(50_001, File.ReadLines(Path.Combine(folder, SafetensorsExport.Gpt2MergesFile)).Count()); // "#version" and GPT-2's 50,000 merges
    }

    [Fact]
    public void ASentencePieceTokenizerIsExportedAsItsModelFileAndTheMapToModelIds()
    {
        byte[] sentencePieceModel = SentencePieceTokenizerTests.LowerCaseBpeModel();
        string[] captions = ["a red bus", "the blue sea"];
        var tokenizer = TextTokenizer.BuildSentencePiece(sentencePieceModel, captions, 100);
        using (var scope = NewDisposeScope())
            SafetensorsExport.Export(TestModels.NewModel(TestModels.Micro with { VocabSize = tokenizer.VocabSize }, 5), tokenizer, folder);

        Assert.Equal(sentencePieceModel, File.ReadAllBytes(Path.Combine(folder, SafetensorsExport.SentencePieceModelFile)));
        int[] pieceIds = JsonSerializer.Deserialize<int[]>(File.ReadAllText(Path.Combine(folder, SafetensorsExport.SentencePieceIdsFile)))!;
        Assert.False(File.Exists(Path.Combine(folder, SafetensorsExport.Gpt2VocabFile)));

        // The exported files alone, read with SentencePiece's own tokenizer: piece ids through the map give the model's ids.
        using var modelFile = File.OpenRead(Path.Combine(folder, SafetensorsExport.SentencePieceModelFile));
        var other = SentencePieceTokenizer.Create(modelFile, addBeginningOfSentence: false, addEndOfSentence: false);
        foreach (var caption in captions)
            Assert.Equal(tokenizer.EncodeWithoutEos(caption), other.EncodeToIds(caption).Select(piece => SpecialTokens.Count + Array.IndexOf(pieceIds, piece)));
    }
}
