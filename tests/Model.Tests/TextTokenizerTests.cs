using CsCheck;

namespace Platform.Model.Tests;

public class TextTokenizerTests
{
    private static readonly string[] Captions =
    [
        "A picture of a red bus parked on a street.",
        "Two dogs playing with a ball in the park.",
        "A red bicycle leaning against a brick wall.",
        "A plate of pasta with tomato sauce.",
    ];

    [Fact]
    public void TrainingTextsRoundTripExactly()
    {
        var tokenizer = TextTokenizer.BuildGpt2(Captions, 1000);
        foreach (var caption in Captions)
        {
            int[] ids = tokenizer.Encode(caption);
            Assert.Equal(SpecialTokens.Eos, ids[^1]);
            Assert.DoesNotContain(SpecialTokens.Unknown, ids);
            Assert.Equal(caption, tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void VocabularyHoldsOnlySubwordsSeenInTraining()
    {
        var tokenizer = TextTokenizer.BuildGpt2(Captions, 1000);
        int distinct = Captions.SelectMany(c => tokenizer.Encode(c)[..^1]).Distinct().Count();
        Assert.Equal(SpecialTokens.Count + distinct, tokenizer.VocabSize);
        Assert.True(tokenizer.VocabSize < 60, "four captions use a few dozen GPT-2 subwords, not 50,257");
        Assert.Contains(SpecialTokens.Unknown, tokenizer.Encode("Quantum chromodynamics"));
    }

    [Fact]
    public void CapacityKeepsTheMostFrequentSubwords()
    {
        // GPT-2 subwords here: "a" once, " a" four times, " b" twice, " c" once.
        var tokenizer = TextTokenizer.BuildGpt2(["a a a a", " a b b c"], SpecialTokens.Count + 2);
        Assert.Equal(SpecialTokens.Count + 2, tokenizer.VocabSize);
        Assert.Equal(" a b a", tokenizer.Decode(tokenizer.Encode(" a b a")));
        Assert.Contains(SpecialTokens.Unknown, tokenizer.Encode(" c"));
        Assert.Contains(SpecialTokens.Unknown, tokenizer.Encode("a"));
    }

    [Fact]
    public void LongTextsAreCutAndKeepTheirEndOfText()
    {
        var tokenizer = TextTokenizer.BuildGpt2(Captions, 1000);
        int[] ids = tokenizer.Encode(Captions[0], maxTokens: 4);
        Assert.Equal(4, ids.Length);
        Assert.Equal(tokenizer.Encode(Captions[0])[..3], ids[..3]);
        Assert.Equal(SpecialTokens.Eos, ids[3]);
    }

    [Fact]
    public void SavedVocabularyEncodesAndDecodesIdentically()
    {
        var tokenizer = TextTokenizer.BuildGpt2(Captions, 1000);
        string path = Path.Combine(Path.GetTempPath(), $"vocab-{Guid.NewGuid():N}.json");
        try
        {
            tokenizer.Save(path);
            var loaded = TextTokenizer.Load(path);
            Assert.Equal(tokenizer.VocabSize, loaded.VocabSize);
            Gen.String.Sample(text => Assert.Equal(tokenizer.Encode(text), loaded.Encode(text)));
            foreach (var caption in Captions) Assert.Equal(caption, loaded.Decode(tokenizer.Encode(caption)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void DecodingStopsAtEndOfTextAndSkipsSpecialTokens()
    {
        var tokenizer = TextTokenizer.BuildGpt2(Captions, 1000);
        int[] bus = tokenizer.EncodeWithoutEos("A red bus");
        int[] withSpecials = [SpecialTokens.Bos, .. bus, SpecialTokens.Pad, SpecialTokens.Eos, .. tokenizer.EncodeWithoutEos(" parked")];
        Assert.Equal("A red bus", tokenizer.Decode(withSpecials));
    }
}
