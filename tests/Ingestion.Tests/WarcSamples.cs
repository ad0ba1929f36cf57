using System.IO.Compression;
using System.Text;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Tests;

/// <summary>Builds small WARC files with our writer and remembers where each record ends.</summary>
internal static class WarcSamples
{
    public sealed record Sample(byte[] Bytes, List<long> RecordEnds, List<string> TargetUris);

    public static string Page(int i) =>
        $"<html lang=en><head><title>Page {i}</title></head><body><p>Some words about item {i} for the test.</p>" +
        $"<img src=\"/img/{i}.jpg\" alt=\"A photo of item number {i}\"></body></html>";

    /// <summary>Response records of HTML pages, one per gzip member (or uncompressed).</summary>
    public static Sample Pages(int count, bool gzip = true)
    {
        var output = new MemoryStream();
        var ends = new List<long>();
        var uris = new List<string>();
        using (var writer = new WarcWriter(output, gzip, leaveOpen: true))
        {
            for (var i = 0; i < count; i++)
            {
                var uri = $"http://example.test/page/{i}";
                writer.WriteResponse(uri, 200, [new("Content-Type", "text/html; charset=utf-8")], Encoding.UTF8.GetBytes(Page(i)));
                ends.Add(output.Position);
                uris.Add(uri);
            }
        }
        return new Sample(output.ToArray(), ends, uris);
    }

    public static byte[] GzipWhole(byte[] data)
    {
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return output.ToArray();
    }
}
