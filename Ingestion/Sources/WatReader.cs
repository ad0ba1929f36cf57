using System.Text.Json;
using Platform.Ingestion.Html;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Sources;

/// <summary>
/// Common Crawl WAT records: JSON metadata per crawled response, whose HTML-Metadata lists every
/// link with its path (`IMG@/src`) and, for images, the alt text. This is how LAION found its pairs.
/// </summary>
public static class WatReader
{
    public const string Stage = "wat_records";

    internal static void Process(WarcRecord record, string source, ExtractionRun run)
    {
        run.Stats.Enter(Stage);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(record.Block);
        }
        catch (JsonException)
        {
            run.Stats.Reject(Stage, "malformed_json");
            return;
        }
        using (document)
        {
            if (!TryGet(document.RootElement, out var envelope, "Envelope")
                || !TryGet(envelope, out var header, "WARC-Header-Metadata"))
            {
                run.Stats.Reject(Stage, "not_wat_metadata");
                return;
            }
            if (header.TryGetProperty("WARC-Type", out var type) && type.GetString() != "response")
            {
                run.Stats.Reject(Stage, "not_a_response");
                return;
            }
            var pageUrl = header.TryGetProperty("WARC-Target-URI", out var target) ? target.GetString() : record.TargetUri;
            if (pageUrl is null || !Uri.TryCreate(pageUrl, UriKind.Absolute, out var pageUri))
            {
                run.Stats.Reject(Stage, "no_target_uri");
                return;
            }
            if (!TryGet(envelope, out var html, "Payload-Metadata", "HTTP-Response-Metadata", "HTML-Metadata"))
            {
                run.Stats.Reject(Stage, "no_html_metadata");
                return;
            }
            var robots = RobotsDirectives.None;
            if (TryGet(envelope, out var headers, "Payload-Metadata", "HTTP-Response-Metadata", "Headers") && headers.ValueKind == JsonValueKind.Object)
                foreach (var h in headers.EnumerateObject())
                    if (h.Name.Equals("X-Robots-Tag", StringComparison.OrdinalIgnoreCase) && h.Value.ValueKind == JsonValueKind.String) robots |= Robots.Parse(h.Value.GetString());
            string? title = null, language = null;
            var baseUri = pageUri;
            if (html.TryGetProperty("Head", out var head) && head.ValueKind == JsonValueKind.Object)
            {
                if (head.TryGetProperty("Title", out var t) && t.ValueKind == JsonValueKind.String) title = HtmlExtractor.Collapse(t.GetString()!);
                if (head.TryGetProperty("Base", out var b) && b.ValueKind == JsonValueKind.String && Uri.TryCreate(pageUri, b.GetString(), out var resolvedBase)) baseUri = resolvedBase;
                if (head.TryGetProperty("Metas", out var metas) && metas.ValueKind == JsonValueKind.Array)
                    foreach (var meta in metas.EnumerateArray())
                    {
                        var name = Str(meta, "name")?.ToLowerInvariant();
                        var equiv = Str(meta, "http-equiv")?.ToLowerInvariant();
                        if (name == "robots") robots |= Robots.Parse(Str(meta, "content"));
                        if (equiv == "content-language" || name == "language") language ??= Str(meta, "content")?.Split(',')[0].Trim().Split('-')[0].ToLowerInvariant();
                    }
            }
            run.Stats.Pass(Stage);
            if (!html.TryGetProperty("Links", out var links) || links.ValueKind != JsonValueKind.Array) return;
            foreach (var link in links.EnumerateArray())
            {
                var path = Str(link, "path");
                if (path is null || !path.StartsWith("IMG@", StringComparison.OrdinalIgnoreCase)) continue;
                var url = Str(link, "url");
                if (url is null || !Uri.TryCreate(baseUri, url.Trim(), out var imageUri) || (imageUri.Scheme != Uri.UriSchemeHttp && imageUri.Scheme != Uri.UriSchemeHttps))
                {
                    run.Stats.Enter(ExtractionRun.CandidatesStage);
                    run.Stats.Reject(ExtractionRun.CandidatesStage, "image_url_not_http");
                    continue;
                }
                var alt = Str(link, "alt");
                run.Offer(new PairCandidate
                {
                    PageUrl = pageUri.AbsoluteUri,
                    ImageUrl = imageUri.AbsoluteUri,
                    AltText = alt is null ? null : HtmlExtractor.Collapse(alt),
                    Language = language,
                    PageTitle = title,
                    Origin = "wat",
                    PageRobots = robots,
                    Source = source,
                });
            }
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool TryGet(JsonElement e, out JsonElement found, params string[] path)
    {
        found = e;
        foreach (var p in path)
        {
            if (found.ValueKind != JsonValueKind.Object || !found.TryGetProperty(p, out found)) return false;
        }
        return true;
    }
}
