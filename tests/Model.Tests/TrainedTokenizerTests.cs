using System.Text;
using CsCheck;
using Microsoft.ML.Tokenizers;

namespace Platform.Model.Tests;

/// <summary>
/// The vocabulary `platform tokenizer train` trains: a SentencePiece BPE model with byte fallback that
/// Microsoft.ML.Tokenizers loads as it is, that the platform's own encoder encodes exactly as Microsoft.ML.Tokenizers
/// does, and that spells any text without the unknown token.
/// </summary>
public sealed class TrainedTokenizerTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-trained-tokenizer-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>Alt-text as web pages carry it, in several scripts, with markup that looks like SentencePiece's own pieces.</summary>
    private static readonly string[] WebTexts =
    [
        "a red double-decker bus on a street in London",
        "Photo of a woman holding a cup of coffee at a café in Paris",
        "Nike Air Max 270 React – Men's Running Shoes (Size 10.5)",
        "https://cdn.example.com/img/IMG_2034.jpg",
        "Golden retriever puppy sitting on the grass, 2019 © Getty Images",
        "東京タワーの夜景 Tokyo Tower at night",
        "Москва зимой: Красная площадь",
        "🌅 sunset vibes #beach #travel 👍🏽",
        "Müller-Straße 12, 80331 München",
        "ÉTÉ 2023 — Collection « Jardin » à 49,99 €",
        "<s>old price</s> new price <unk> <0x41>",
        "aaaa aaaa aaa aa aaaaa banana",
        "the blue sea and the green trees under a white sky",
        "   leading spaces and\ttabs\nand new lines  ",
    ];

    private static IEnumerable<string> Corpus()
    {
        for (int copy = 0; copy < 20; copy++)
            foreach (var text in WebTexts)
                yield return copy % 2 == 0 ? text : $"{text} {copy}";
    }

    private static readonly Lazy<byte[]> Trained = new(() => SentencePieceBpeTrainer.Train(Corpus(), new SubwordTrainingOptions { VocabSize = 600 }).ToBytes());

    private static readonly string[] Fragments =
    [
        "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "漢字", "東京タワー", "카페", "Ωμέγα", "ไทย", "𝔘𝔫𝔦", "\0", "\t", "\n", "\r\n", "\u0007", "\u001b", "\u200b",
        "\uFEFF", "e\u0301", " ", "  ", "aaaa", "aaa", "red", "bus", "coffee", "https://", "<s>", "</s>", "<unk>", "<0x41>", "ü", "ß", "\uD800", "\uDC00", "\uFFFD",
    ];

    /// <summary>Any UTF-16 text (lone surrogates included), text built from awkward fragments, and supplementary-plane characters.</summary>
    private static readonly Gen<string> AnyText = Gen.OneOf(
        Gen.Char[(char)0, char.MaxValue].Array[0, 40].Select(chars => new string(chars)),
        Gen.Int[0, Fragments.Length - 1].Array[0, 12].Select(picks => string.Concat(picks.Select(i => Fragments[i]))),
        Gen.Int[0x10000, 0x10FFFF].Array[1, 8].Select(codePoints => string.Concat(codePoints.Select(char.ConvertFromUtf32))),
        Gen.Int[0, WebTexts.Length - 1].Select(i => WebTexts[i]));

    /// <summary>The text as UTF-8 carries it: each lone surrogate as U+FFFD.</summary>
    private static string Utf8(string text) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));

    private static int[] BaseIds(TextTokenizer tokenizer, int[] modelIds) => [.. modelIds[..^1].Select(id => tokenizer.BaseIds[id - SpecialTokens.Count])];

    [Fact]
    public void TrainedModelLoadsInMicrosoftMlTokenizersAndOurEncoderGivesTheSameIds()
    {
        var mlNet = SentencePieceTokenizer.Create(new MemoryStream(Trained.Value), addBeginningOfSentence: false, addEndOfSentence: false);
        var tokenizer = TextTokenizer.FromByteFallbackSentencePiece(Trained.Value);
        Assert.True(tokenizer.UsesOwnEncoder, "the trained model must be one the platform's encoder reproduces");
        AnyText.Sample(text => Assert.Equal(mlNet.EncodeToIds(Utf8(text)), BaseIds(tokenizer, tokenizer.Encode(text))), iter: 2000);
        // Equal scores go to the rightmost pair in both: "aaa" is "a" + "aa" only if that tie is broken alike.
        foreach (var text in new[] { "aaa", "aaaaa", "aaaaaaa banana" })
            Assert.Equal(mlNet.EncodeToIds(text), BaseIds(tokenizer, tokenizer.Encode(text)));
    }

    [Fact]
    public void AnyUnicodeTextDecodesToItselfWithLoneSurrogatesReplaced()
    {
        var tokenizer = TextTokenizer.FromByteFallbackSentencePiece(Trained.Value);
        // U+2581 is SentencePiece's own mark for a space, and decodes as one: the one character that does not round trip.
        AnyText.Where(text => !text.Contains('\u2581'))
            .Sample(text => Assert.Equal(Utf8(text), tokenizer.Decode(tokenizer.Encode(text))), iter: 2000);
    }

    [Fact]
    public void UnseenWebTextNeverEncodesAsUnknown()
    {
        var tokenizer = TextTokenizer.FromByteFallbackSentencePiece(Trained.Value);
        string[] unseen =
        [
            "Ελληνικά νησιά: Σαντορίνη 🏝️", "ภาษาไทย ตลาดน้ำ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕗𝕒𝕟𝕔𝕪 𝓽𝓮𝔁𝓽", "Zürich HB → Genève: 2h 45′",
            "<s>", "<unk>", "<0xFF><0x00>", "Ꭰ Ꭱ Ꭲ Cherokee", "😀😃😄😁 ×4", "\u0000\u0001 control \u007f",
        ];
        foreach (var text in unseen.Concat(WebTexts))
        {
            Assert.DoesNotContain(SpecialTokens.Unknown, tokenizer.Encode(text));
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
        // What the issue saw: the GPT-2 vocabulary cut to the corpus, without byte fallback, maps such text to UNK.
        var cutDown = TextTokenizer.BuildGpt2(Corpus(), 600);
        Assert.Contains(unseen, text => cutDown.Encode(text).Contains(SpecialTokens.Unknown));
    }

    [Fact]
    public void TrainingTheSameCorpusGivesTheSameFileWhateverItsOrder()
    {
        var options = new SubwordTrainingOptions { VocabSize = 600 };
        Assert.Equal(Trained.Value, SentencePieceBpeTrainer.Train(Corpus(), options).ToBytes());
        Assert.Equal(Trained.Value, SentencePieceBpeTrainer.Train(Corpus().Reverse(), options).ToBytes());
        Assert.NotEqual(Trained.Value, SentencePieceBpeTrainer.Train(Corpus(), options with { VocabSize = 500 }).ToBytes());
    }

    [Fact]
    public void TrainedModelHasSentencePiecesLayoutAndTheRequestedSize()
    {
        var model = SentencePieceModelFile.Parse(Trained.Value);
        Assert.Equal(600, model.Pieces.Count);
        Assert.Equal(SentencePieceModelFile.BpeModel, model.ModelType);
        Assert.True(model.ByteFallback);
        Assert.Equal(new SentencePieceEntry("<unk>", 0, SentencePieceType.Unknown), model.Pieces[0]);
        Assert.Equal(SentencePieceType.Control, model.Pieces[1].Type);
        Assert.Equal(SentencePieceType.Control, model.Pieces[2].Type);
        for (int b = 0; b < 256; b++) Assert.Equal(new SentencePieceEntry($"<0x{b:X2}>", 0, SentencePieceType.Byte), model.Pieces[3 + b]);
        var normal = model.Pieces.Skip(SentencePieceBpeTrainer.FixedPieces).ToList();
        Assert.All(normal, p => Assert.Equal(SentencePieceType.Normal, p.Type));
        Assert.Equal(normal.Count, normal.Select(p => p.Piece).Distinct().Count());
        Assert.All(normal, p => Assert.True(p.Piece.IndexOf('\u2581', 1) < 0, $"'{p.Piece}' holds a word boundary after its start"));
        Assert.Contains(normal, p => p.Piece == "\u2581the");
        // Scores fall with the merge order, so that encoders redo the merges in training order.
        Assert.Equal(normal.Select(p => p.Score).OrderDescending(), normal.Select(p => p.Score));
    }

    [Fact]
    public void LargeCorpusIsSampledToMaxTexts()
    {
        var reports = new List<SubwordTrainingProgress>();
        var progress = new Recorder(reports);
        var model = SentencePieceBpeTrainer.Train(Corpus(), new SubwordTrainingOptions { VocabSize = 400, MaxTexts = 50 }, progress);
        int corpus = Corpus().Count();
        Assert.Contains(new SubwordTrainingProgress(SubwordTrainingStage.Read, corpus, 50), reports);
        Assert.Equal(SubwordTrainingStage.Merged, reports[^1].Stage);
        Assert.True(model.Pieces.Count <= 400);
    }

    [Fact]
    public void RunsReferenceTheFileWholeWithoutReadingTheCorpusAndCheckpointsCarryIt()
    {
        string path = Path.Combine(folder, "web.model");
        File.WriteAllBytes(path, Trained.Value);
        var tokenizer = TextTokenizer.Build($"{TextTokenizer.SentencePiece}:{path}", NeverRead(), maxVocabSize: 10);
        Assert.Equal(600 - 3 + SpecialTokens.Count, tokenizer.VocabSize);
        string saved = Path.Combine(folder, "vocabulary.json");
        tokenizer.Save(saved);
        File.Delete(path);
        var loaded = TextTokenizer.Load(saved);
        Assert.True(loaded.UsesOwnEncoder);
        Assert.Equal(tokenizer.VocabSize, loaded.VocabSize);
        AnyText.Sample(text => Assert.Equal(tokenizer.Encode(text), loaded.Encode(text)), iter: 200);

        static IEnumerable<string> NeverRead()
        {
            throw new InvalidOperationException("a trained vocabulary must not scan the corpus");
#pragma warning disable CS0162 // an iterator needs a yield to be one
            yield break;
#pragma warning restore CS0162
        }
    }

    [Fact]
    public void VocabularyFileWithAnIdNoBaseTokenizerHasIsRefusedAsDamaged()
    {
        string path = Path.Combine(folder, "vocabulary.json");
        foreach (string ids in new[] { "[5, -1]", "[5, 2000000000]" })
        {
            File.WriteAllText(path, $$"""{"base":"gpt2","base_ids":{{ids}}}""");
            Assert.Contains("no base tokenizer has", Assert.Throws<InvalidDataException>(() => TextTokenizer.Load(path)).Message);
        }
    }

    private sealed class Recorder(List<SubwordTrainingProgress> reports) : IProgress<SubwordTrainingProgress>
    {
        public void Report(SubwordTrainingProgress value) => reports.Add(value);
    }
}
