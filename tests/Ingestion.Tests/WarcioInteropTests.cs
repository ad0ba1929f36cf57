using System.Text;
using System.Text.Json;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Tests;

/// <summary>Our writer's files read by warcio (an independent implementation) and by our reader, record for record.</summary>
public class WarcioInteropTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Warcio_reads_our_writer_output_record_for_record(bool gzip)
    {
        var nodeModules = ExternalTools.FindNodeModules();
        ExternalTools.RequireOrSkip(ExternalTools.FindOnPath("node") is not null && nodeModules is not null, "node with the repository's node_modules (npm ci)");
        var bin = Path.Combine(nodeModules!, ".bin", "warcio");
        ExternalTools.RequireOrSkip(File.Exists(bin), "warcio in node_modules (npm ci)");

        var path = Path.Combine(Path.GetTempPath(), $"interop-{Guid.NewGuid():N}.warc{(gzip ? ".gz" : "")}");
        try
        {
            using (var file = File.Create(path))
            using (var writer = new WarcWriter(file, gzip))
            {
                writer.WriteWarcInfo(Path.GetFileName(path), [new("software", "platform")]);
                var request = writer.WriteRequest("http://example.test/a?q=1");
                var page = Encoding.UTF8.GetBytes("<html><body><img src=x.png alt='é ü'></body></html>");
                var response = writer.WriteResponse("http://example.test/a?q=1", 200, [new("Content-Type", "text/html; charset=utf-8")], page, request);
                writer.WriteResource("http://example.test/r", "image/png", new byte[] { 0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3 });
                writer.WriteMetadata("http://example.test/a?q=1", response, [new("via", "test")]);
                writer.WriteRevisit("http://example.test/a?q=1", response, WarcDigest.Sha1Base32(page));
                writer.WriteResponse("http://example.test/missing", 404, [new("Content-Type", "text/plain")], "not here"u8);
            }

            var (code, output, error) = ExternalTools.Run("node", [bin, "index", path, "-f", "offset", "warc-type", "warc-target-uri", "warc-record-id", "content-length", "http:status"]);
            Assert.True(code == 0, error);
            var theirs = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement).ToList();

            using var reader = new WarcReader(File.OpenRead(path), new FunnelStats());
            var ours = reader.ReadAll(TestContext.Current.CancellationToken).Select(r => (r.Type, r.TargetUri, r.RecordId, r.Block.Length, r.CompressedOffset, r.Offset, r.BlockDigestMatches)).ToList();

            Assert.Equal(7, theirs.Count);
            Assert.Equal(theirs.Count, ours.Count);
            for (var i = 0; i < ours.Count; i++)
            {
                Assert.Equal(theirs[i].GetProperty("warc-type").GetString(), ours[i].Type);
                Assert.Equal(theirs[i].GetProperty("warc-record-id").GetString(), ours[i].RecordId);
                Assert.Equal(theirs[i].GetProperty("content-length").GetString(), ours[i].Length.ToString());
                Assert.Equal(theirs[i].GetProperty("offset").GetInt64(), gzip ? ours[i].CompressedOffset : ours[i].Offset);
                if (ours[i].TargetUri is not null) Assert.Equal(theirs[i].GetProperty("warc-target-uri").GetString(), ours[i].TargetUri);
                Assert.True(ours[i].BlockDigestMatches);
            }
            Assert.Equal(200, theirs[2].GetProperty("http:status").GetInt32());
            Assert.Equal(404, theirs[6].GetProperty("http:status").GetInt32());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
