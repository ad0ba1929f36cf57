using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Platform.Ingestion.Crawling;
using Platform.Ingestion.Html;
using Platform.Ingestion.Images;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Sources;
using Platform.Ingestion.Warc;
using SkiaSharp;

namespace Platform.Tests.Faults;

/// <summary>
/// The suite's crafted inputs, each run through the production reader that meets it first: each must end within a time and an
/// allocation bound, with its reason counted once, and the good records around it (where the format has any) still read.
/// Tests in Ingestion.Tests pin each reader's details; this table runs every input again as one suite and reports the tally.
/// </summary>
public sealed class CraftedInputTests
{
    private const string Category = "crafted inputs";
    private static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(60);
    /// <summary>Bytes the reader may allocate on the test's thread while it meets the input: far less than what the inputs claim.</summary>
    private const long AllocationBound = 1L << 30;
    private const string WarcBytesStage = "warc_bytes";

    /// <summary>
    /// What running one crafted input found: the reason counted for it, how often, and how many good neighbours were lost.
    /// <paramref name="CountedOnce"/>: the input is one fault with one reason; otherwise each layer that meets it may count it.
    /// </summary>
    private sealed record Outcome(string Reason, long ReasonCount, int NeighboursLost, bool CountedOnce = true);

    public static TheoryData<string> Inputs() =>
    [
        "a truncated gzip member",
        "a 2 GB Content-Length claim",
        "a gzip member of 10 GB of zeros",
        "a record with a million header lines",
        "a page with 300,000 links",
        "a 60000x60000 image header",
        "a progressive JPEG with thousands of scans",
        "a URL list with a 100 MB line",
    ];

    [Theory]
    [MemberData(nameof(Inputs))]
    public void A_crafted_input_ends_in_bounded_time_and_memory_with_its_reason_counted(string input)
    {
        // Each input is built before the bounds are measured: only what the reader spends counts.
        var prepared = Prepare(input);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var outcome = prepared();
        watch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        FaultSuiteReport.Record(Category, inputsTried: 1, faultsInjected: 1, dataLost: outcome.NeighboursLost);

        Assert.True(watch.Elapsed < TimeBound, $"{input}: took {watch.Elapsed}");
        Assert.True(allocated < AllocationBound, $"{input}: allocated {allocated >> 20} MiB");
        Assert.True(outcome.CountedOnce ? outcome.ReasonCount == 1 : outcome.ReasonCount > 0, $"{input}: {outcome.Reason} counted {outcome.ReasonCount} times");
        Assert.Equal(0, outcome.NeighboursLost);
    }

    private static Func<Outcome> Prepare(string input) => input switch
    {
        "a truncated gzip member" => PrepareTruncatedGzipMember(),
        "a 2 GB Content-Length claim" => PrepareTwoGigabyteContentLength(),
        "a gzip member of 10 GB of zeros" => PrepareTenGigabytesOfZeros(),
        "a record with a million header lines" => PrepareMillionHeaderLines(),
        "a page with 300,000 links" => PreparePageOfManyLinks(),
        "a 60000x60000 image header" => PrepareHugeImageHeader(),
        "a progressive JPEG with thousands of scans" => PrepareJpegOfThousandsOfScans(),
        "a URL list with a 100 MB line" => PrepareUrlListWithHugeLine(),
        _ => throw new ArgumentOutOfRangeException(nameof(input), input, "No such crafted input."),
    };

    /// <summary>Reads a WARC and says which of the good records around the crafted one were lost.</summary>
    private static Outcome ReadWarc(Stream warc, string stage, string reason, params string[] expected)
    {
        var stats = new FunnelStats();
        using var reader = new WarcReader(warc, stats);
        var read = reader.ReadAll(TestContext.Current.CancellationToken).Select(r => r.TargetUri).ToHashSet();
        return new Outcome(reason, stats.Rejections(stage, reason), expected.Count(uri => !read.Contains(uri)));
    }

    private static byte[] Record(string uri, string body, bool gzip)
    {
        using var output = new MemoryStream();
        using (var writer = new WarcWriter(output, gzipPerRecord: gzip, leaveOpen: true))
            writer.WriteResource(uri, "text/plain", Encoding.UTF8.GetBytes(body));
        return output.ToArray();
    }

    private static Func<Outcome> PrepareTruncatedGzipMember()
    {
        var middle = Record("http://crafted.test/middle", new string('m', 4000), gzip: true);
        byte[] bytes = [.. Record("http://crafted.test/before", "before", gzip: true), .. middle.AsSpan(0, middle.Length / 2),
            .. Record("http://crafted.test/after", "after", gzip: true)];
        return () =>
        {
            var stats = new FunnelStats();
            using var reader = new WarcReader(new MemoryStream(bytes), stats);
            var read = reader.ReadAll(TestContext.Current.CancellationToken).Select(r => r.TargetUri).ToHashSet();
            // The gzip layer counts the broken member, and the record layer the part of a record it gave up.
            var counted = stats.Stage(WarcReader.Stage).RejectedTotal + stats.Stage(WarcBytesStage).RejectedTotal;
            return new Outcome("truncated member", counted, new[] { "http://crafted.test/before", "http://crafted.test/after" }.Count(u => !read.Contains(u)),
                CountedOnce: false);
        };
    }

    private static Func<Outcome> PrepareTwoGigabyteContentLength()
    {
        var crafted = Encoding.ASCII.GetBytes("WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: http://crafted.test/claim\r\nContent-Length: 2147483648\r\n\r\nshort\r\n\r\n");
        byte[] bytes = [.. Record("http://crafted.test/before", "before", gzip: false), .. crafted, .. Record("http://crafted.test/after", "after", gzip: false)];
        return () => ReadWarc(new MemoryStream(bytes), WarcReader.Stage, "record_too_large", "http://crafted.test/before", "http://crafted.test/after");
    }

    private static Func<Outcome> PrepareTenGigabytesOfZeros()
    {
        var before = Record("http://crafted.test/before", "before", gzip: true);
        var after = Record("http://crafted.test/after", "after", gzip: true);
        return () => ReadWarc(new ZeroBombWarc(before, 10L << 30, after), WarcBytesStage, "gzip_member_expands_too_far",
            "http://crafted.test/before", "http://crafted.test/after");
    }

    private static Func<Outcome> PrepareMillionHeaderLines()
    {
        var crafted = new StringBuilder("WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: http://crafted.test/headers\r\n");
        for (var i = 0; i < 1_000_000; i++) crafted.Append("X-Line: y\r\n");
        crafted.Append("Content-Length: 4\r\n\r\nbody\r\n\r\n");
        byte[] bytes = [.. Record("http://crafted.test/before", "before", gzip: false), .. Encoding.ASCII.GetBytes(crafted.ToString()),
            .. Record("http://crafted.test/after", "after", gzip: false)];
        return () => ReadWarc(new MemoryStream(bytes), WarcReader.Stage, "malformed_header", "http://crafted.test/before", "http://crafted.test/after");
    }

    private static Func<Outcome> PreparePageOfManyLinks()
    {
        const int Links = 300_000;
        var html = new StringBuilder("<html><body>");
        for (var i = 0; i < Links; i++) html.Append("<a href=\"/p/").Append(i).Append("\">x</a>");
        var bytes = Encoding.UTF8.GetBytes(html.Append("</body></html>").ToString());
        return () =>
        {
            // What the crawl does with such a page: extract its links, then admit them within the page budget and count the rest.
            var page = new HtmlExtractor().Extract(bytes, "http://crafted.test/", collectText: false, collectLinks: true);
            var options = new CrawlOptions { MaxPages = 1000, MaxDepth = 3 };
            var frontier = new CrawlFrontier(["http://crafted.test/"], options);
            var seed = frontier.Take(1).Single();
            frontier.AddDiscovered(seed, new CrawlDiscovery(page.Links, []));
            var overBudget = frontier.Stats.Snapshot().GetValueOrDefault(CrawlReasons.LinkOverPageBudget);
            // Every link is either admitted or counted: none is dropped unaccounted.
            var lost = Links - (frontier.Pending.Count + (int)overBudget);
            Assert.Equal(Links - (options.MaxPages - 1), overBudget);
            return new Outcome(CrawlReasons.LinkOverPageBudget, overBudget, lost, CountedOnce: false);
        };
    }

    private static readonly ImageOptions Images = new() { MinShorterSide = 16, MinBytes = 0, ResizeMode = ResizeMode.No };

    private static Outcome ProcessImage(byte[] payload)
    {
        var stats = new FunnelStats();
        var outcome = new ImageProcessor(Images).Process(payload);
        if (outcome.Rejection is { } rejection) stats.Reject("images", rejection.Code());
        return new Outcome(ImageRejection.DecompressionBomb.Code(), stats.Rejections("images", ImageRejection.DecompressionBomb.Code()), 0);
    }

    private static Func<Outcome> PrepareHugeImageHeader()
    {
        // A PNG whose header announces 60000x60000 (3.6 gigapixels) over a kilobyte of pixel data.
        using var output = new MemoryStream();
        output.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, 60_000);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), 60_000);
        header[8] = 8;
        header[9] = 2;
        WritePngChunk(output, "IHDR", header);
        using (var pixels = new MemoryStream())
        {
            using (var zlib = new ZLibStream(pixels, CompressionLevel.Fastest, leaveOpen: true)) zlib.Write(new byte[1024]);
            WritePngChunk(output, "IDAT", pixels.ToArray());
        }
        WritePngChunk(output, "IEND", []);
        var png = output.ToArray();
        return () => ProcessImage(png);
    }

    private static void WritePngChunk(Stream output, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        output.Write(length);
        byte[] typed = [.. Encoding.ASCII.GetBytes(type), .. data];
        output.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(length, Crc32(typed));
        output.Write(length);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    private static Func<Outcome> PrepareJpegOfThousandsOfScans()
    {
        // A real JPEG, then 5000 more scan headers (each with a little entropy data) before its end: what a progressive bomb looks like.
        using var bitmap = new SKBitmap(64, 48);
        bitmap.Erase(new SKColor(120, 80, 40));
        using var image = SKImage.FromBitmap(bitmap);
        using var encoded = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        var jpeg = encoded.ToArray();
        var firstScan = jpeg.AsSpan().IndexOf(new byte[] { 0xFF, 0xDA });
        var scanHeader = jpeg.AsSpan(firstScan, 2 + ((jpeg[firstScan + 2] << 8) | jpeg[firstScan + 3])).ToArray();
        var extra = new List<byte>();
        for (var i = 0; i < 5000; i++) extra.AddRange([.. scanHeader, 0x12, 0xFF, 0x00, 0x34]);
        byte[] crafted = [.. jpeg.AsSpan(0, jpeg.Length - 2), .. extra, 0xFF, 0xD9];
        return () => ProcessImage(crafted);
    }

    private static Func<Outcome> PrepareUrlListWithHugeLine()
    {
        var text = new StringBuilder("url\tcaption\n").Append("http://list.test/1.jpg\tcaption number one\n");
        text.Append("http://list.test/huge.jpg\t").Append('x', 100 << 20).Append('\n');
        text.Append("http://list.test/2.jpg\tcaption number two\n");
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        return () =>
        {
            var sink = new CollectingSink();
            using var run = new ExtractionRun(new ExtractionOptions { AltText = new() { MinWords = 1 } }, sink);
            // MemoryStream reads complete at once, so the reader stays on this thread, where its allocations are measured.
            UrlListReader.AddAsync(run, new MemoryStream(bytes), UrlListFormat.Tsv, "list", new UrlListOptions(), TestContext.Current.CancellationToken)
                .GetAwaiter().GetResult();
            Platform.Ingestion.Stages.FrequencyFilterStage.RunInProcess(run, sink, TestContext.Current.CancellationToken);
            var urls = sink.Accepted.Select(c => c.ImageUrl).ToHashSet();
            return new Outcome("row_too_long", run.Stats.Rejections(UrlListReader.Stage, "row_too_long"),
                new[] { "http://list.test/1.jpg", "http://list.test/2.jpg" }.Count(u => !urls.Contains(u)));
        };
    }

    /// <summary>
    /// A per-record gzip WARC whose middle member inflates to <c>zeros</c> bytes of zeros, produced as it is read: the member is
    /// one deflate block of a mebibyte of zeros (which refers only to itself) repeated, so neither the inflated nor the compressed
    /// member is ever held whole, in memory or on disk. Its trailer is never reached: a reader must give up long before.
    /// </summary>
    private sealed class ZeroBombWarc : Platform.Ingestion.Warc.ForwardReadStream
    {
        private readonly IEnumerator<ReadOnlyMemory<byte>> parts;
        private ReadOnlyMemory<byte> current = ReadOnlyMemory<byte>.Empty;

        public ZeroBombWarc(byte[] before, long zeros, byte[] after) => parts = Parts(before, zeros, after).GetEnumerator();

        private static IEnumerable<ReadOnlyMemory<byte>> Parts(byte[] before, long zeros, byte[] after)
        {
            yield return before;
            yield return new byte[] { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
            var block = MebibyteOfZerosBlock();
            for (long done = 0; done < zeros; done += 1 << 20) yield return block;
            // The last block, empty, and a trailer (whose CRC does not match: no reader should get this far).
            yield return new byte[] { 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0 };
            yield return after;
        }

        /// <summary>A mebibyte of zeros deflated and sync-flushed, so that it ends on a byte boundary and can be repeated as is.</summary>
        private static byte[] MebibyteOfZerosBlock()
        {
            var output = new MemoryStream();
            var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true);
            deflate.Write(new byte[1 << 20]);
            deflate.Flush();
            return output.ToArray();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (current.IsEmpty)
            {
                if (!parts.MoveNext()) return 0;
                current = parts.Current;
            }
            var n = Math.Min(buffer.Length, current.Length);
            current.Span[..n].CopyTo(buffer);
            current = current[n..];
            return n;
        }
    }
}
