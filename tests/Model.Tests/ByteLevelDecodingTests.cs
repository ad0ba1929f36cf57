using System.Text;
using CsCheck;
using Microsoft.ML.Tokenizers;

namespace Platform.Model.Tests;

/// <summary>
/// GPT-2's subwords are bytes, and many characters (curly quotes, CJK, emoji) are split across two or
/// more of them: text must come from the whole byte sequence, never subword by subword.
/// </summary>
public class ByteLevelDecodingTests
{
    private const string QuotedCaption = "“AI” filter options";

    // Characters from every part of Unicode that text on the web carries, and lone surrogates (not
    // Unicode scalars: UTF-8 has no bytes for them, so they stand for U+FFFD on the way in).
    private static readonly Gen<string> AnyCharacter = Gen.Frequency(
        (6, Gen.Int[0x20, 0x7E].Select(Scalar)),                            // ASCII
        (2, Gen.Const(" ")),
        (2, Gen.Int[0x00, 0x1F].Select(Scalar)),                            // C0 controls: \0, \t, \n, ...
        (1, Gen.Int[0x7F, 0x9F].Select(Scalar)),                            // DEL, C1 controls
        (2, Gen.Int[0xA0, 0x24F].Select(Scalar)),                           // Latin-1, Latin Extended
        (2, Gen.Int[0x300, 0x36F].Select(Scalar)),                          // combining marks
        (1, Gen.Int[0x2000, 0x206F].Select(Scalar)),                        // punctuation: “ ” – …, zero-width joiners
        (3, Gen.Int[0x4E00, 0x9FFF].Select(Scalar)),                        // CJK
        (1, Gen.Int[0xAC00, 0xD7A3].Select(Scalar)),                        // Hangul
        (3, Gen.Int[0x1F300, 0x1FAFF].Select(Scalar)),                      // emoji: surrogate pairs, four UTF-8 bytes
        (1, Gen.Int[0x10000, 0x10FFFF].Select(Scalar)),                     // the rest of the supplementary planes
        (1, Gen.Int[0xE000, 0xFFFD].Select(Scalar)),                        // private use, specials, U+FFFD itself
        (1, Gen.Int[0xD800, 0xDFFF].Select(unit => ((char)unit).ToString())), // a lone surrogate
        (1, Gen.Const("<|endoftext|>")));                                   // GPT-2's special token as plain text

    private static readonly Gen<string> AnyText = AnyCharacter.Array[0, 40].Select(string.Concat);

    private static string Scalar(int codePoint) => char.ConvertFromUtf32(codePoint);

    /// <summary>The text the input stands for: what UTF-8 can carry of it.</summary>
    private static string Expected(string text) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));

    // Model ids 4..259 of a vocabulary built with allBytes are the bytes 0..255, in byte order.
    private static readonly TextTokenizer AllBytes = TextTokenizer.BuildGpt2([QuotedCaption, "A picture of a red bus."], 600, allBytes: true);

    private static int[] ByteIds(byte[] bytes) => [.. bytes.Select(b => SpecialTokens.Count + b)];

    [Fact]
    public void AnyUnicodeTextRoundTripsThroughAVocabularyHoldingAllBytes()
    {
        AnyText.Sample(text =>
        {
            int[] ids = AllBytes.Encode(text);
            Assert.DoesNotContain(SpecialTokens.Unknown, ids);
            Assert.Equal(Expected(text), AllBytes.Decode(ids));
        }, iter: 2000);
    }

    [Fact]
    public void TheAllBytesVocabularyStartsWithTheBytesInOrderThenTheMostFrequentSubwords()
    {
        Assert.InRange(AllBytes.VocabSize, SpecialTokens.Count + 256 + 1, 600);
        for (int b = 0; b < 0x80; b++) Assert.Equal(((char)b).ToString(), AllBytes.Decode([SpecialTokens.Count + b]));
        int[] caption = AllBytes.Encode(QuotedCaption);
        Assert.True(caption.Length < Encoding.UTF8.GetByteCount(QuotedCaption), "the caption's own subwords are kept whole, not spelled in bytes");
    }

    [Fact]
    public void DecodingReadsAllSubwordsAsOneByteSequence()
    {
        // Any bytes, also those that form no character: the text is what UTF-8 makes of all of them together.
        Gen.Byte.Array[0, 60].Sample(bytes => Assert.Equal(Encoding.UTF8.GetString(bytes), AllBytes.Decode(ByteIds(bytes))), iter: 2000);
    }

    [Fact]
    public void CurlyQuotesSplitAcrossSubwordsDecodeWhole()
    {
        // The report: "“��” filter options". Each curly quote is three bytes, E2 80 9C and E2 80 9D, which
        // GPT-2 spells as two subwords each; one at a time they are not text.
        var tokenizer = TextTokenizer.BuildGpt2([QuotedCaption], 100);
        int[] ids = tokenizer.Encode(QuotedCaption);
        Assert.Equal(3, tokenizer.Encode("“").Length);
        Assert.DoesNotContain(SpecialTokens.Unknown, ids);
        Assert.Equal(QuotedCaption, tokenizer.Decode(ids));

        var decoder = tokenizer.StartDecoding();
        var pieces = ids.Select(decoder.Append).ToList();
        pieces.Add(decoder.Finish());
        Assert.Equal("", pieces[0]);   // E2 80: half a quote is held back
        Assert.Equal("“", pieces[1]);  // 9C completes it
        Assert.Equal(QuotedCaption, string.Concat(pieces));
        Assert.DoesNotContain(pieces, piece => piece.Contains('\uFFFD'));
    }

    [Fact]
    public void StreamedTextNeverShowsHalfACharacter()
    {
        AnyText.Sample(text =>
        {
            var decoder = AllBytes.StartDecoding();
            var pieces = AllBytes.Encode(text).Select(decoder.Append).ToList();
            pieces.Add(decoder.Finish());
            Assert.Equal(Expected(text), string.Concat(pieces));
            // A U+FFFD may only appear where the text itself has one.
            Assert.Equal(Expected(text).Count(c => c == '\uFFFD'), pieces.Sum(piece => piece.Count(c => c == '\uFFFD')));
        }, iter: 1000);
    }

    [Fact]
    public void StreamedPiecesOfAnyBytesConcatenateToTheWholeDecode()
    {
        Gen.Byte.Array[0, 40].Sample(bytes =>
        {
            var decoder = AllBytes.StartDecoding();
            var pieces = ByteIds(bytes).Select(decoder.Append).ToList();
            pieces.Add(decoder.Finish());
            Assert.Equal(Encoding.UTF8.GetString(bytes), string.Concat(pieces));
        }, iter: 1000);
    }

    [Fact]
    public void StreamingEndsAtEndOfText()
    {
        var decoder = AllBytes.StartDecoding();
        int[] quote = AllBytes.EncodeWithoutEos("“");
        Assert.Equal("", decoder.Append(quote[0]));
        Assert.Equal("\uFFFD", decoder.Append(SpecialTokens.Eos)); // an unfinished character at the end of the text
        Assert.Equal("", decoder.Append(quote[1]));
        Assert.Equal("", decoder.Finish());
    }

    [Fact]
    public void AnUnseenSubwordIsSpelledInBytesWhenTheVocabularyHoldsThem()
    {
        // The cut-down vocabulary of the report's data: "漢字" was never seen.
        var seen = TextTokenizer.BuildGpt2([QuotedCaption], 100);
        Assert.Contains(SpecialTokens.Unknown, seen.Encode("“漢字”"));
        Assert.Equal("“”", seen.Decode(seen.Encode("“漢字”")));

        int[] ids = AllBytes.Encode("“漢字”");
        Assert.DoesNotContain(SpecialTokens.Unknown, ids);
        Assert.Equal("“漢字”", AllBytes.Decode(ids));
    }

    [Fact]
    public void Gpt2BytesAreTheBytesTheTokenizerEncodes()
    {
        var gpt2 = TiktokenTokenizer.CreateForModel("gpt2");
        AnyText.Sample(text =>
        {
            string scalars = Expected(text); // GPT-2's encoder spells a lone surrogate in bytes that are no UTF-8
            var bytes = gpt2.EncodeToIds(scalars).SelectMany(id => Gpt2Vocabulary.Bytes(id).ToArray()).ToArray();
            Assert.Equal(Encoding.UTF8.GetBytes(scalars), bytes);
        }, iter: 500);
        Assert.Equal(Gpt2Vocabulary.EndOfText, Gpt2Vocabulary.Count);
    }
}
