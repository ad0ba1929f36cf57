using System.Text.Json;
using Platform.Ingestion.Html;

namespace Platform.Ingestion.Pipeline;

/// <summary>An (image URL, alt text) pair found on a page, with what the filters and the fetch stage need.</summary>
public sealed record PairCandidate
{
    public required string PageUrl { get; init; }
    public required string ImageUrl { get; init; }
    public string? AltText { get; init; }
    public string? Language { get; init; }
    public string? PageTitle { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    /// <summary>Which markup or input gave the URL (src, srcset, data-src, picture-source, wat, url-list).</summary>
    public string Origin { get; init; } = "src";
    public RobotsDirectives PageRobots { get; init; }
    /// <summary>The input file (or work unit) the pair came from.</summary>
    public string Source { get; init; } = "";
    /// <summary>Whether the image's own response is in the same input, so its bytes need no fetch.</summary>
    public bool ImageInDump { get; init; }

    public void WriteJson(Utf8JsonWriter json, string? reason = null)
    {
        json.WriteStartObject();
        json.WriteString("page_url", PageUrl);
        json.WriteString("image_url", ImageUrl);
        json.WriteString("alt_text", AltText);
        json.WriteString("lang", Language);
        json.WriteBoolean("image_in_dump", ImageInDump);
        if (PageTitle is not null) json.WriteString("title", PageTitle);
        if (Width is { } w) json.WriteNumber("width", w);
        if (Height is { } h) json.WriteNumber("height", h);
        json.WriteString("origin", Origin);
        if (PageRobots != RobotsDirectives.None) json.WriteString("page_robots", PageRobots.ToString());
        json.WriteString("source", Source);
        if (reason is not null) json.WriteString("reason", reason);
        json.WriteEndObject();
    }

    public static PairCandidate ReadJson(JsonElement e) => new()
    {
        PageUrl = e.GetProperty("page_url").GetString() ?? "",
        ImageUrl = e.GetProperty("image_url").GetString() ?? "",
        AltText = e.GetProperty("alt_text").GetString(),
        Language = e.GetProperty("lang").GetString(),
        ImageInDump = e.GetProperty("image_in_dump").GetBoolean(),
        PageTitle = e.TryGetProperty("title", out var t) ? t.GetString() : null,
        Width = e.TryGetProperty("width", out var w) ? w.GetInt32() : null,
        Height = e.TryGetProperty("height", out var h) ? h.GetInt32() : null,
        Origin = e.GetProperty("origin").GetString() ?? "",
        PageRobots = e.TryGetProperty("page_robots", out var r) && Enum.TryParse<RobotsDirectives>(r.GetString(), out var robots) ? robots : RobotsDirectives.None,
        Source = e.GetProperty("source").GetString() ?? "",
    };

    /// <summary>The pairs of a JSON-lines file of pairs (a spool, candidates.jsonl), in order.</summary>
    public static IEnumerable<PairCandidate> ReadJsonLines(string path)
    {
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            using var document = JsonDocument.Parse(line);
            yield return ReadJson(document.RootElement);
        }
    }
}

/// <summary>Where an image response sits in the dump, so its bytes can be read later without fetching.</summary>
public sealed record DumpedImage(string Url, string Source, string? RecordId, long Offset, long CompressedOffset, string MediaType, int Length, RobotsDirectives Robots)
{
    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("url", Url);
        json.WriteString("source", Source);
        json.WriteString("record_id", RecordId);
        json.WriteNumber("offset", Offset);
        json.WriteNumber("compressed_offset", CompressedOffset);
        json.WriteString("media_type", MediaType);
        json.WriteNumber("length", Length);
        if (Robots != RobotsDirectives.None) json.WriteString("robots", Robots.ToString());
        json.WriteEndObject();
    }

    /// <summary>Reads back what <see cref="WriteJson"/> wrote (a line of images.jsonl).</summary>
    public static DumpedImage ReadJson(JsonElement e) => new(
        e.GetProperty("url").GetString()!, e.GetProperty("source").GetString() ?? "", e.GetProperty("record_id").GetString(),
        e.GetProperty("offset").GetInt64(), e.GetProperty("compressed_offset").GetInt64(), e.GetProperty("media_type").GetString() ?? "",
        e.GetProperty("length").GetInt32(),
        e.TryGetProperty("robots", out var r) && Enum.TryParse<RobotsDirectives>(r.GetString(), out var robots) ? robots : RobotsDirectives.None);
}

/// <summary>Images found in the dump, by URL. A distributed run can back this with a shared table.</summary>
public interface IImageIndex
{
    void Add(DumpedImage image);
    bool TryGet(string url, out DumpedImage? image);
    int Count { get; }
}

public sealed class InProcessImageIndex : IImageIndex
{
    private readonly Dictionary<string, DumpedImage> images = new(StringComparer.Ordinal);

    public void Add(DumpedImage image) => images.TryAdd(image.Url, image);

    public bool TryGet(string url, out DumpedImage? image) => images.TryGetValue(url, out image);

    public int Count => images.Count;

    public IEnumerable<DumpedImage> All => images.Values;
}

/// <summary>Candidates that passed the per-pair filters, held until the frequency counts are final.</summary>
public interface ICandidateSpool : IDisposable
{
    void Append(PairCandidate candidate);
    IEnumerable<PairCandidate> ReadAll();
}

public sealed class InMemoryCandidateSpool : ICandidateSpool
{
    private readonly List<PairCandidate> candidates = [];

    public void Append(PairCandidate candidate) => candidates.Add(candidate);

    public IEnumerable<PairCandidate> ReadAll() => candidates;

    public void Dispose() { }
}

/// <summary>Spools to a JSON Lines file so memory stays flat however many pairs there are.</summary>
/// <param name="keep">Leave the file when disposed: a work unit's spool is read again by the job's run-wide stages.</param>
public sealed class FileCandidateSpool(string path, bool keep = false) : ICandidateSpool
{
    private readonly JsonLinesWriter writer = new(path);

    public void Append(PairCandidate candidate) => writer.Line(json => candidate.WriteJson(json));

    public IEnumerable<PairCandidate> ReadAll()
    {
        writer.Flush();
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16));
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            yield return PairCandidate.ReadJson(doc.RootElement);
        }
    }

    public void Dispose()
    {
        writer.Dispose();
        if (!keep) File.Delete(path);
    }
}
