using System.Text.Json;

namespace Platform.Ingestion.Pipeline;

/// <summary>
/// Counts of what entered each stage, what passed, and every rejection by reason, so the output
/// can say exactly where input was lost. Stages keep the order in which they were first touched.
/// Not thread-safe: one instance per work unit; <see cref="Merge"/> combines units.
/// </summary>
public sealed class FunnelStats
{
    private readonly List<string> order = [];
    private readonly Dictionary<string, StageCounts> stages = new(StringComparer.Ordinal);

    public sealed class StageCounts
    {
        public long In { get; internal set; }
        public long Passed { get; internal set; }
        public Dictionary<string, long> Rejected { get; } = new(StringComparer.Ordinal);
        /// <summary>Observations that do not remove anything (e.g. a digest mismatch on a kept record).</summary>
        public Dictionary<string, long> Notes { get; } = new(StringComparer.Ordinal);
        public long RejectedTotal => Rejected.Values.Sum();
    }

    /// <summary>Stages in the order they were first touched, for tables and reports.</summary>
    public IReadOnlyList<string> StageNames => order;

    public StageCounts Stage(string stage)
    {
        if (!stages.TryGetValue(stage, out var counts))
        {
            counts = new StageCounts();
            stages.Add(stage, counts);
            order.Add(stage);
        }
        return counts;
    }

    public void Enter(string stage, long count = 1) => Stage(stage).In += count;

    public void Pass(string stage, long count = 1) => Stage(stage).Passed += count;

    public void Reject(string stage, string reason, long count = 1)
    {
        var rejected = Stage(stage).Rejected;
        rejected[reason] = rejected.GetValueOrDefault(reason) + count;
    }

    /// <summary>Turns passes into rejections: items a later, wider look (a run-wide dedupe, say) rejects after all.</summary>
    public void Overturn(string stage, string reason, long count = 1)
    {
        Stage(stage).Passed -= count;
        Reject(stage, reason, count);
    }

    public void Note(string stage, string what, long count = 1)
    {
        var notes = Stage(stage).Notes;
        notes[what] = notes.GetValueOrDefault(what) + count;
    }

    public long Rejections(string stage, string reason) =>
        stages.TryGetValue(stage, out var c) ? c.Rejected.GetValueOrDefault(reason) : 0;

    public long Notes(string stage, string what) =>
        stages.TryGetValue(stage, out var c) ? c.Notes.GetValueOrDefault(what) : 0;

    public void Merge(FunnelStats other)
    {
        foreach (var name in other.order)
        {
            var from = other.stages[name];
            var to = Stage(name);
            to.In += from.In;
            to.Passed += from.Passed;
            foreach (var (k, v) in from.Rejected) to.Rejected[k] = to.Rejected.GetValueOrDefault(k) + v;
            foreach (var (k, v) in from.Notes) to.Notes[k] = to.Notes.GetValueOrDefault(k) + v;
        }
    }

    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteStartArray("stages");
        foreach (var name in order)
        {
            var c = stages[name];
            json.WriteStartObject();
            json.WriteString("stage", name);
            json.WriteNumber("in", c.In);
            json.WriteNumber("passed", c.Passed);
            json.WriteStartObject("rejected");
            foreach (var (k, v) in c.Rejected.OrderByDescending(p => p.Value)) json.WriteNumber(k, v);
            json.WriteEndObject();
            json.WriteStartObject("notes");
            foreach (var (k, v) in c.Notes.OrderByDescending(p => p.Value)) json.WriteNumber(k, v);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true })) WriteJson(json);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
