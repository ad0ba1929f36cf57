using System.Text.Json;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Text;

namespace Platform.Ingestion.Pipeline;

/// <summary>Keeps everything in memory; for tests and small runs.</summary>
public sealed class CollectingSink : IExtractionSink
{
    public List<PairCandidate> Accepted { get; } = [];
    public List<(PairCandidate Candidate, string Reason)> Rejected { get; } = [];
    public List<TextDocument> Texts { get; } = [];

    void IExtractionSink.Accepted(PairCandidate candidate) => Accepted.Add(candidate);
    void IExtractionSink.Rejected(PairCandidate candidate, string reason) => Rejected.Add((candidate, reason));
    void IExtractionSink.Text(TextDocument document) => Texts.Add(document);
}

/// <summary>Writes candidates.jsonl, rejected.jsonl and text.jsonl into a directory.</summary>
public sealed class JsonLinesSink : IExtractionSink, IDisposable
{
    private readonly JsonLinesWriter candidates;
    private readonly JsonLinesWriter rejected;
    private readonly JsonLinesWriter texts;

    public JsonLinesSink(string directory)
    {
        Directory.CreateDirectory(directory);
        candidates = new JsonLinesWriter(Path.Combine(directory, IngestJobLayout.CandidatesFile));
        rejected = new JsonLinesWriter(Path.Combine(directory, IngestJobLayout.RejectedFile));
        texts = new JsonLinesWriter(Path.Combine(directory, IngestJobLayout.TextFile));
    }

    public void Accepted(PairCandidate candidate) => candidates.Line(json => candidate.WriteJson(json));

    public void Rejected(PairCandidate candidate, string reason) => rejected.Line(json => candidate.WriteJson(json, reason));

    public void Text(TextDocument document) => texts.Line(json => WriteText(json, document));

    /// <summary>One line of text.jsonl.</summary>
    public static void WriteText(Utf8JsonWriter json, TextDocument document)
    {
        json.WriteStartObject();
        json.WriteString("url", document.Url);
        json.WriteString("lang", document.Language);
        json.WriteString("title", document.Title);
        json.WriteString("text", document.Text);
        json.WriteEndObject();
    }

    /// <summary>Reads back a line written by <see cref="WriteText"/> (the span count is not part of it).</summary>
    public static TextDocument ReadText(JsonElement line) => new(
        line.GetProperty("url").GetString()!, line.GetProperty("lang").GetString(), line.GetProperty("title").GetString(), line.GetProperty("text").GetString()!);

    public void Dispose()
    {
        candidates.Dispose();
        rejected.Dispose();
        texts.Dispose();
    }
}

/// <summary>Forwards to a <see cref="JsonLinesSink"/> and counts the text documents written.</summary>
internal sealed class CountingSink(JsonLinesSink inner) : IExtractionSink, IDisposable
{
    public long Texts { get; private set; }
    public void Accepted(PairCandidate candidate) => inner.Accepted(candidate);
    public void Rejected(PairCandidate candidate, string reason) => inner.Rejected(candidate, reason);
    public void Text(Text.TextDocument document) { Texts++; inner.Text(document); }
    public void Dispose() => inner.Dispose();
}
