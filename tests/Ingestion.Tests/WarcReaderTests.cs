using System.IO.Compression;
using System.Text;
using Platform.Ingestion.Http;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Tests;

public class WarcReaderTests
{
    private static List<(string Type, string? Uri, byte[] Block, bool? Digest)> ReadAll(byte[] bytes, FunnelStats? stats = null, WarcReaderOptions? options = null)
    {
        using var reader = new WarcReader(new MemoryStream(bytes), stats ?? new FunnelStats(), options);
        return reader.ReadAll(TestContext.Current.CancellationToken).Select(r => (r.Type, r.TargetUri, r.Block.ToArray(), r.BlockDigestMatches)).ToList();
    }

    private static byte[] AllRecordTypes(bool gzip)
    {
        var output = new MemoryStream();
        using var writer = new WarcWriter(output, gzip, leaveOpen: true);
        writer.WriteWarcInfo("test.warc.gz", [new("software", "platform-tests"), new("format", "WARC File Format 1.1")]);
        var request = writer.WriteRequest("http://example.test/");
        var response = writer.WriteResponse("http://example.test/", 200, [new("Content-Type", "text/html")], "<html>hi</html>"u8, request);
        writer.WriteResource("http://example.test/r.txt", "text/plain", "resource body"u8);
        writer.WriteMetadata("http://example.test/", response, [new("fetchTimeMs", "12")]);
        writer.WriteRevisit("http://example.test/", response, WarcDigest.Sha1Base32("<html>hi</html>"u8));
        writer.WriteRecord("conversion", "converted"u8, "text/plain", "http://example.test/c");
        return output.ToArray();
    }

    [Theory]
    [InlineData("per-record gzip")]
    [InlineData("uncompressed")]
    [InlineData("whole-file gzip")]
    public void Reads_every_record_type_in_every_compression(string layout)
    {
        var bytes = layout switch
        {
            "per-record gzip" => AllRecordTypes(gzip: true),
            "uncompressed" => AllRecordTypes(gzip: false),
            _ => WarcSamples.GzipWhole(AllRecordTypes(gzip: false)),
        };
        var stats = new FunnelStats();
        var records = ReadAll(bytes, stats);
        Assert.Equal(["warcinfo", "request", "response", "resource", "metadata", "revisit", "conversion"], records.Select(r => r.Type));
        Assert.All(records, r => Assert.True(r.Digest));
        Assert.Equal("resource body", Encoding.UTF8.GetString(records[3].Block));
        Assert.Equal(7, stats.Stage(WarcReader.Stage).Passed);
        Assert.Equal(0, stats.Stage(WarcReader.Stage).RejectedTotal);
    }

    [Fact]
    public void Reports_the_compressed_offset_of_each_record_member()
    {
        var sample = WarcSamples.Pages(3);
        using var reader = new WarcReader(new MemoryStream(sample.Bytes), new FunnelStats());
        var offsets = reader.ReadAll(TestContext.Current.CancellationToken).Select(r => r.CompressedOffset).ToList();
        Assert.Equal([0, sample.RecordEnds[0], sample.RecordEnds[1]], offsets);
    }

    [Fact]
    public void Garbage_between_records_is_counted_and_the_next_record_is_read()
    {
        var a = WarcSamples.Pages(2, gzip: false).Bytes;
        var bytes = a.Concat("this is not a warc record\r\n"u8.ToArray()).Concat(WarcSamples.Pages(1, gzip: false).Bytes).ToArray();
        var stats = new FunnelStats();
        Assert.Equal(3, ReadAll(bytes, stats).Count);
        Assert.Equal(1, stats.Rejections(WarcReader.Stage, "garbage_between_records"));
    }

    [Fact]
    public void Garbage_between_gzip_members_is_counted_and_later_members_are_read()
    {
        var sample = WarcSamples.Pages(3);
        var bytes = sample.Bytes[..(int)sample.RecordEnds[0]].Concat(new byte[] { 1, 2, 3, 0x1f, 0x8b }).Concat(sample.Bytes[(int)sample.RecordEnds[0]..]).ToArray();
        var stats = new FunnelStats();
        Assert.Equal(sample.TargetUris, ReadAll(bytes, stats).Select(r => r.Uri));
        Assert.Equal(1, stats.Rejections(GzipMemberSource.Stage, "garbage_between_members"));
    }

    [Fact]
    public void A_truncated_gzip_member_costs_only_its_record()
    {
        var sample = WarcSamples.Pages(3);
        var cut = (int)(sample.RecordEnds[0] + (sample.RecordEnds[1] - sample.RecordEnds[0]) / 2);
        var bytes = sample.Bytes[..cut].Concat(sample.Bytes[(int)sample.RecordEnds[1]..]).ToArray();
        var stats = new FunnelStats();
        var uris = ReadAll(bytes, stats).Select(r => r.Uri).ToList();
        Assert.Equal([sample.TargetUris[0], sample.TargetUris[2]], uris);
        Assert.True(stats.Stage(WarcReader.Stage).RejectedTotal + stats.Stage(GzipMemberSource.Stage).RejectedTotal >= 1);
    }

    [Fact]
    public void A_wrong_content_length_is_counted_and_the_following_record_is_still_read()
    {
        var text = Encoding.UTF8.GetString(WarcSamples.Pages(3, gzip: false).Bytes);
        var first = text.IndexOf("Content-Length: ", StringComparison.Ordinal);
        var lineEnd = text.IndexOf('\r', first);
        var length = int.Parse(text[(first + 16)..lineEnd]);
        foreach (var wrong in new[] { length - 7, length + 40, length + 100000 })
        {
            var damaged = text[..(first + 16)] + wrong + text[lineEnd..];
            var stats = new FunnelStats();
            var records = ReadAll(Encoding.UTF8.GetBytes(damaged), stats);
            Assert.Equal(["http://example.test/page/1", "http://example.test/page/2"], records.Select(r => r.Uri));
            Assert.Equal(1, stats.Stage(WarcReader.Stage).RejectedTotal);
        }
    }

    [Fact]
    public void Missing_or_malformed_headers_are_counted_and_skipped()
    {
        var good = Encoding.UTF8.GetString(WarcSamples.Pages(1, gzip: false).Bytes);
        var noLength = "WARC/1.1\r\nWARC-Type: resource\r\n\r\nbody\r\n\r\n";
        var badLine = "WARC/1.1\r\nthis line has no colon\r\nContent-Length: 4\r\n\r\nbody\r\n\r\n";
        var stats = new FunnelStats();
        var records = ReadAll(Encoding.UTF8.GetBytes(noLength + good + badLine + good), stats);
        Assert.Equal(2, records.Count);
        Assert.Equal(1, stats.Rejections(WarcReader.Stage, "missing_content_length"));
        Assert.Equal(1, stats.Rejections(WarcReader.Stage, "malformed_header"));
    }

    [Theory]
    [InlineData("X-Line: y\r\n")]   // many short fields
    [InlineData(" y\r\n")]          // one field folded over many lines
    public void A_header_of_600000_lines_is_refused_at_the_cap_even_after_a_large_record_grew_the_window(string repeated)
    {
        var output = new MemoryStream();
        using (var writer = new WarcWriter(output, gzipPerRecord: false, leaveOpen: true))
            writer.WriteResource("http://example.test/large", "application/octet-stream", new byte[8_000_000]);
        var crafted = new StringBuilder("WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: http://example.test/crafted\r\n");
        for (var i = 0; i < 600_000; i++) crafted.Append(repeated);
        crafted.Append("Content-Length: 4\r\n\r\nbody\r\n\r\n");
        output.Write(Encoding.ASCII.GetBytes(crafted.ToString()));
        using (var writer = new WarcWriter(output, gzipPerRecord: false, leaveOpen: true))
            writer.WriteResource("http://example.test/after", "text/plain", "after"u8);

        var stats = new FunnelStats();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var records = ReadAll(output.ToArray(), stats);

        Assert.Equal(["http://example.test/large", "http://example.test/after"], records.Select(r => r.Uri));
        Assert.Equal(1, stats.Rejections(WarcReader.Stage, "malformed_header"));
        // Linear work is well under a second; the old quadratic join took minutes.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }

    [Fact]
    public void A_gzip_member_of_gigabytes_of_zeros_is_abandoned_early_and_the_next_member_read()
    {
        var output = new MemoryStream();
        using (var writer = new WarcWriter(output, gzipPerRecord: true, leaveOpen: true))
            writer.WriteResource("http://example.test/before", "text/plain", "before"u8);
        using (var bomb = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            var zeros = new byte[1 << 20];
            for (var i = 0; i < 2048; i++) bomb.Write(zeros); // 2 GiB inflated, about 2 MB compressed
        }
        using (var writer = new WarcWriter(output, gzipPerRecord: true, leaveOpen: true))
            writer.WriteResource("http://example.test/after", "text/plain", "after"u8);

        var stats = new FunnelStats();
        using var reader = new WarcReader(new MemoryStream(output.ToArray()), stats);
        var uris = reader.ReadAll(TestContext.Current.CancellationToken).Select(r => r.TargetUri).ToList();

        Assert.Equal(["http://example.test/before", "http://example.test/after"], uris);
        Assert.Equal(1, stats.Rejections("warc_bytes", "gzip_member_expands_too_far"));
        // It stopped soon after the floor rather than inflating all 2 GiB.
        Assert.True(reader.DecompressedBytes < 4 * (64L << 20), $"{reader.DecompressedBytes} bytes inflated");
    }

    [Fact]
    public async Task Reading_through_endless_garbage_stops_when_cancelled()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        using var reader = new WarcReader(new EndlessGarbage(), new FunnelStats());
        var reading = Task.Run(() => reader.ReadAll(cancel.Token).Count(), TestContext.Current.CancellationToken);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
    }

    /// <summary>Bytes that never hold a record start: a reader resynchronising through it never finds one.</summary>
    private sealed class EndlessGarbage : ForwardReadStream
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            buffer.AsSpan(offset, count).Fill((byte)'x');
            return count;
        }
    }

    [Fact]
    public void An_http_head_folded_over_a_million_lines_is_not_an_http_response_and_a_modest_fold_is_joined()
    {
        var crafted = new StringBuilder("HTTP/1.1 200 OK\r\nX-Long: a\r\n");
        for (var i = 0; i < 1_000_000; i++) crafted.Append(" b\r\n");
        crafted.Append("\r\nbody");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(Platform.Ingestion.Http.HttpResponse.TryParse(Encoding.ASCII.GetBytes(crafted.ToString()), out _));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");

        var modest = "HTTP/1.1 200 OK\r\nX-Long: a\r\n" + string.Concat(Enumerable.Repeat(" b\r\n", 1000)) + "Content-Type: text/html\r\n\r\nbody";
        Assert.True(Platform.Ingestion.Http.HttpResponse.TryParse(Encoding.ASCII.GetBytes(modest), out var response));
        Assert.Equal("a" + string.Concat(Enumerable.Repeat(" b", 1000)), response.Header("X-Long"));
        Assert.Equal("text/html", response.MediaType);
    }

    [Fact]
    public void A_record_over_the_size_cap_is_skipped_with_a_reason_and_the_next_is_read()
    {
        var output = new MemoryStream();
        using (var writer = new WarcWriter(output, gzipPerRecord: true, leaveOpen: true))
        {
            writer.WriteResource("http://example.test/small", "text/plain", "small"u8);
            writer.WriteResource("http://example.test/huge", "text/html", new byte[3_000_000]);
            writer.WriteResource("http://example.test/after", "text/plain", "after"u8);
        }
        var stats = new FunnelStats();
        var records = ReadAll(output.ToArray(), stats, new WarcReaderOptions { MaxRecordBytes = 1 << 20 });
        Assert.Equal(["http://example.test/small", "http://example.test/after"], records.Select(r => r.Uri));
        Assert.Equal(1, stats.Rejections(WarcReader.Stage, "record_too_large"));
    }

    [Fact]
    public void A_whole_file_gzip_larger_than_the_member_buffer_is_streamed()
    {
        var plain = WarcSamples.Pages(400, gzip: false).Bytes;
        var records = ReadAll(WarcSamples.GzipWhole(plain), options: new WarcReaderOptions { MaxRecordBytes = 4096, MaxHeaderBytes = 1024 });
        Assert.Equal(400, records.Count);
    }

    [Fact]
    public void Digest_mismatches_are_counted()
    {
        var text = Encoding.UTF8.GetString(WarcSamples.Pages(1, gzip: false).Bytes).Replace("item 0", "item X");
        var stats = new FunnelStats();
        var records = ReadAll(Encoding.UTF8.GetBytes(text), stats);
        Assert.False(Assert.Single(records).Digest);
        Assert.Equal(1, stats.Notes(WarcReader.Stage, "block_digest_mismatch"));
        Assert.Equal(1, stats.Notes(WarcReader.Stage, "payload_digest_mismatch"));
    }

    [Fact]
    public void Http_bodies_are_dechunked_and_decompressed()
    {
        var html = Encoding.UTF8.GetBytes("<html><body>" + new string('x', 5000) + "</body></html>");
        static byte[] Compress(byte[] data, Func<Stream, Stream> open)
        {
            var ms = new MemoryStream();
            using (var s = open(ms)) s.Write(data);
            return ms.ToArray();
        }
        var cases = new (string Encoding, byte[] Body)[]
        {
            ("gzip", Compress(html, s => new GZipStream(s, CompressionLevel.Fastest))),
            ("deflate", Compress(html, s => new ZLibStream(s, CompressionLevel.Fastest))),
            ("deflate", Compress(html, s => new DeflateStream(s, CompressionLevel.Fastest))),
            ("br", Compress(html, s => new BrotliStream(s, CompressionLevel.Fastest))),
        };
        foreach (var (encoding, body) in cases)
        {
            var chunked = new MemoryStream();
            for (var i = 0; i < body.Length; i += 1000)
            {
                var n = Math.Min(1000, body.Length - i);
                chunked.Write(Encoding.ASCII.GetBytes($"{n:x};ext=1\r\n"));
                chunked.Write(body, i, n);
                chunked.Write("\r\n"u8);
            }
            chunked.Write("0\r\n\r\n"u8);
            var block = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=ISO-8859-1\r\nTransfer-Encoding: chunked\r\nContent-Encoding: {encoding}\r\n\r\n")
                .Concat(chunked.ToArray()).ToArray();
            Assert.True(HttpResponse.TryParse(block, out var response));
            Assert.Equal(200, response.StatusCode);
            Assert.Equal("text/html", response.MediaType);
            Assert.Equal("iso-8859-1", response.Charset);
            Assert.True(HttpBody.TryDecode(response, block.AsMemory(response.BodyOffset), 1 << 20, out var decoded, out var failure), failure);
            Assert.Equal(html, decoded.ToArray());
        }
    }

    [Fact]
    public void Decoding_fails_with_a_reason_on_a_bomb_or_broken_stream()
    {
        var zeros = new MemoryStream();
        using (var gz = new GZipStream(zeros, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(new byte[5_000_000]);
        var block = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n").Concat(zeros.ToArray()).ToArray();
        Assert.True(HttpResponse.TryParse(block, out var response));
        Assert.False(HttpBody.TryDecode(response, block.AsMemory(response.BodyOffset), 1 << 20, out _, out var failure));
        Assert.Equal("decoded_body_too_large", failure);

        var broken = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\nnot brotli at all, just text");
        Assert.True(HttpResponse.TryParse(broken, out var brokenResponse));
        Assert.False(HttpBody.TryDecode(brokenResponse, broken.AsMemory(brokenResponse.BodyOffset), 1 << 20, out _, out var reason));
        Assert.Equal("bad_content_encoding", reason);
    }
}

public class WarcReaderLengthTests
{
    [Fact]
    public void An_absurd_content_length_does_not_swallow_the_rest_of_the_file()
    {
        var text = Encoding.UTF8.GetString(WarcSamples.Pages(3, gzip: false).Bytes);
        var first = text.IndexOf("Content-Length: ", StringComparison.Ordinal);
        var lineEnd = text.IndexOf('\r', first);
        var damaged = text[..(first + 16)] + "99999999999" + text[lineEnd..];
        var stats = new FunnelStats();
        using var reader = new WarcReader(new MemoryStream(Encoding.UTF8.GetBytes(damaged)), stats);
        var uris = reader.ReadAll(TestContext.Current.CancellationToken).Select(r => r.TargetUri).ToList();
        Assert.Equal(["http://example.test/page/1", "http://example.test/page/2"], uris);
        Assert.Equal(1, stats.Rejections(WarcReader.Stage, "record_too_large"));
    }
}
