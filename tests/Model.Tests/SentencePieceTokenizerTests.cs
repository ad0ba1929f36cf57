using CsCheck;
using Platform.Model.Training;
using SkiaSharp;

namespace Platform.Model.Tests;

/// <summary>SentencePiece models through Microsoft.ML.Tokenizers: encoding, checkpoints, training and captioning.</summary>
public sealed class SentencePieceTokenizerTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-sentencepiece-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static readonly string[] Captions = ["a red bus", "the blue sea", "green trees"];

    /// <summary>
    /// A real SentencePiece BPE model file (the ModelProto protobuf that SentencePiece's trainer
    /// writes), built here because no trained one can be downloaded: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the
    /// word boundary and every lower-case letter, then a few merges, ranked by score.
    /// </summary>
    internal static byte[] LowerCaseBpeModel()
    {
        var pieces = new List<SentencePieceEntry> { new("<unk>", 0, SentencePieceType.Unknown), new("<s>", 0, SentencePieceType.Control), new("</s>", 0, SentencePieceType.Control) };
        string[] merges = ["▁a", "re", "ed", "▁r", "▁red", "▁t", "he", "▁the", "ee", "▁b", "us", "▁bus", "ue", "▁s", "ea", "▁sea", "▁g", "en", "▁gr", "tr"];
        pieces.AddRange(merges.Select((piece, rank) => new SentencePieceEntry(piece, -1f - rank, SentencePieceType.Normal)));
        pieces.AddRange("▁abcdefghijklmnopqrstuvwxyz".Select((c, rank) => new SentencePieceEntry(c.ToString(), -100f - rank, SentencePieceType.Normal)));
        return new SentencePieceModelFile
        {
            Pieces = pieces,
            ModelType = SentencePieceModelFile.BpeModel,
            NormalizerName = "identity",
            AddDummyPrefix = true,
            RemoveExtraWhitespaces = true,
            EscapeWhitespaces = true,
        }.ToBytes();
    }

    private string ModelFile()
    {
        string path = Path.Combine(folder, "lower.model");
        File.WriteAllBytes(path, LowerCaseBpeModel());
        return path;
    }

    [Fact]
    public void SentencePieceTextsRoundTripAndUnseenCharactersEncodeAsUnknown()
    {
        var tokenizer = TextTokenizer.Build($"{TextTokenizer.SentencePiece}:{ModelFile()}", Captions, 100);
        Assert.Equal(TextTokenizer.SentencePiece, tokenizer.BaseName);
        foreach (var caption in Captions)
        {
            int[] ids = tokenizer.Encode(caption);
            Assert.Equal(SpecialTokens.Eos, ids[^1]);
            Assert.DoesNotContain(SpecialTokens.Unknown, ids);
            Assert.True(ids.Length < caption.Length, $"the merges should join letters of '{caption}' ({ids.Length} ids)");
            Assert.Equal(caption, tokenizer.Decode(ids));
        }
        // Only pieces seen in the captions are kept: "z" is a piece of the model but not of the captions.
        int distinct = Captions.SelectMany(c => tokenizer.Encode(c)[..^1]).Distinct().Count();
        Assert.Equal(SpecialTokens.Count + distinct, tokenizer.VocabSize);
        Assert.Contains(SpecialTokens.Unknown, tokenizer.Encode("a zebra"));
        Assert.Contains(SpecialTokens.Unknown, tokenizer.Encode("a Red bus")); // "R" is in no piece: SentencePiece's own unknown
        Assert.Equal("a red bus", tokenizer.Decode(tokenizer.Encode("a   red bus"))); // the model's whitespace normalisation applies
    }

    [Fact]
    public void SavedSentencePieceVocabularyCarriesItsModelAndEncodesIdentically()
    {
        string modelPath = ModelFile();
        var tokenizer = TextTokenizer.Build($"{TextTokenizer.SentencePiece}:{modelPath}", Captions, 100);
        string path = Path.Combine(folder, "vocabulary.json");
        tokenizer.Save(path);
        File.Delete(modelPath); // the saved vocabulary must not depend on the original file
        var loaded = TextTokenizer.Load(path);
        Assert.Equal(TextTokenizer.SentencePiece, loaded.BaseName);
        Assert.Equal(tokenizer.VocabSize, loaded.VocabSize);
        Gen.String["abcdefghijklmnopqrstuvwxyz ZQ"].Sample(text => Assert.Equal(tokenizer.Encode(text), loaded.Encode(text)));
        foreach (var caption in Captions) Assert.Equal(caption, loaded.Decode(tokenizer.Encode(caption)));
    }

    [Fact]
    public void BadTokenizerChoicesFailClearly()
    {
        Assert.Contains("expected", Assert.Throws<ArgumentException>(() => TextTokenizer.Build("wordpiece", Captions, 100)).Message);
        Assert.Throws<FileNotFoundException>(() => TextTokenizer.Build($"{TextTokenizer.SentencePiece}:{Path.Combine(folder, "missing.model")}", Captions, 100));
        string garbage = Path.Combine(folder, "garbage.model");
        File.WriteAllBytes(garbage, [0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        Assert.Throws<InvalidDataException>(() => TextTokenizer.Build($"{TextTokenizer.SentencePiece}:{garbage}", Captions, 100));
    }

    /// <summary>
    /// The whole path with a SentencePiece vocabulary: train until the captions are memorised, save a
    /// checkpoint, then caption the image files from that checkpoint alone (the tokenizer comes back
    /// out of it, as `platform caption` loads it).
    /// </summary>
    [Fact]
    public async Task ModelTrainedWithSentencePieceCaptionsImagesFromItsCheckpoint()
    {
        var tokenizer = TextTokenizer.Build($"{TextTokenizer.SentencePiece}:{ModelFile()}", Captions, 100);
        var config = TestModels.Micro with { VocabSize = tokenizer.VocabSize };
        SKColor[] colours = [new(220, 30, 30), new(30, 60, 220), new(30, 180, 40)];
        var preprocessor = new ImagePreprocessor(config.ImageSize);
        var imagePaths = new string[Captions.Length];
        var pairs = new PrefixLmSample[Captions.Length];
        for (int i = 0; i < Captions.Length; i++)
        {
            imagePaths[i] = Path.Combine(folder, $"image{i}.png");
            File.WriteAllBytes(imagePaths[i], Png(colours[i], i));
            pairs[i] = new PrefixLmSample(preprocessor.Preprocess(File.ReadAllBytes(imagePaths[i]), out _)!, tokenizer.Encode(Captions[i], config.MaxTextLength));
        }
        string run = Path.Combine(folder, "run");
        var options = new TrainingOptions
        {
            Steps = 200, SamplesPerStep = 6, PeakLearningRate = 3e-3, WarmupSteps = 20, Threads = 2, Seed = 3, Device = "cpu",
            CheckpointEvery = 0, CheckpointDirectory = run,
        };
        using (var trainer = SimVlmTrainer.Start(config, options, tokenizer, new InMemoryPrefixLmData(pairs, [], seed: 3)))
            await foreach (var _ in trainer.RunAsync(cancellationToken: TestContext.Current.CancellationToken)) { }

        var (model, restored) = Checkpoint.LoadForInference(run);
        using (model)
        {
            Assert.Equal(TextTokenizer.SentencePiece, restored.BaseName);
            var captions = new ImageCaptioner(model, restored).Caption(imagePaths, maxTokens: 12);
            Assert.Equal(Captions, captions.Select(c => c.Caption));
            // A prompt is encoded by the same SentencePiece vocabulary and continued, not repeated.
            Assert.Equal("bus", new ImageCaptioner(model, restored).Caption([imagePaths[0]], prompt: "a red", maxTokens: 12)[0].Caption);
        }
    }

    /// <summary>A solid colour with a diagonal stripe whose position depends on <paramref name="index"/>.</summary>
    private static byte[] Png(SKColor colour, int index)
    {
        using var bitmap = new SKBitmap(32, 32);
        bitmap.Erase(colour);
        for (int x = 0; x < 32; x++) bitmap.SetPixel(x, (x + 10 * index) % 32, SKColors.White);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
