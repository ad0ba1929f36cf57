namespace Platform.Model;

/// <summary>
/// Text for model ids that arrive one at a time, as a decoder generates them. A character whose bytes
/// span several subwords (an emoji, a CJK character, a curly quote) is only written once all its
/// bytes have arrived: until then the incomplete tail decodes as U+FFFD and is held back, so the pieces
/// returned, followed by <see cref="Finish"/>, always concatenate to <see cref="TextTokenizer.Decode"/>
/// of the same ids.
/// </summary>
public sealed class StreamingTextDecoder
{
    private readonly TextTokenizer tokenizer;
    private readonly List<int> ids = [];
    private int written;
    private bool ended;

    internal StreamingTextDecoder(TextTokenizer tokenizer) => this.tokenizer = tokenizer;

    /// <summary>
    /// Takes the next id and returns the text it completes (often empty). End-of-text ends the text:
    /// what was held back is returned and later ids are ignored, as <see cref="TextTokenizer.Decode"/> ignores them.
    /// </summary>
    public string Append(int id)
    {
        if (ended) return "";
        if (id == SpecialTokens.Eos) return Finish();
        ids.Add(id);
        // Decoding the whole sequence again keeps every base tokenizer's rules (SentencePiece's leading
        // space, byte pieces); captions are a few dozen ids, so the repeated work is small.
        string text = tokenizer.Decode(ids);
        int complete = text.Length;
        while (complete > written && text[complete - 1] == '\uFFFD') complete--;
        return Take(text, complete);
    }

    /// <summary>Returns what is still held back (an incomplete character as U+FFFD) and ends the text.</summary>
    public string Finish()
    {
        if (ended) return "";
        ended = true;
        string text = tokenizer.Decode(ids);
        return Take(text, text.Length);
    }

    private string Take(string text, int end)
    {
        if (end <= written) return "";
        string piece = text[written..end];
        written = end;
        return piece;
    }
}
