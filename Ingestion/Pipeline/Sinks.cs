using System.Text.Json;
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
    private readonly Writer candidates;
    private readonly Writer rejected;
    private readonly Writer texts;

    public JsonLinesSink(string directory)
    {
        Directory.CreateDirectory(directory);
        candidates = new Writer(Path.Combine(directory, "candidates.jsonl"));
        rejected = new Writer(Path.Combine(directory, "rejected.jsonl"));
        texts = new Writer(Path.Combine(directory, "text.jsonl"));
    }

    public void Accepted(PairCandidate candidate) => candidates.Line(json => candidate.WriteJson(json));

    public void Rejected(PairCandidate candidate, string reason) => rejected.Line(json => candidate.WriteJson(json, reason));

    public void Text(TextDocument document) => texts.Line(json =>
    {
        json.WriteStartObject();
        json.WriteString("url", document.Url);
        json.WriteString("lang", document.Language);
        json.WriteString("title", document.Title);
        json.WriteString("text", document.Text);
        json.WriteEndObject();
    });

    public void Dispose()
    {
        candidates.Dispose();
        rejected.Dispose();
        texts.Dispose();
    }

    internal sealed class Writer : IDisposable
    {
        private readonly FileStream stream;
        private readonly Utf8JsonWriter json;

        public Writer(string path)
        {
            stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
            json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }

        public void Line(Action<Utf8JsonWriter> write)
        {
            write(json);
            json.Flush();
            json.Reset();
            stream.WriteByte((byte)'\n');
        }

        public void Dispose()
        {
            json.Dispose();
            stream.Dispose();
        }
    }
}
