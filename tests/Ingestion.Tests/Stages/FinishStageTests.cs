using System.Text;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Units;
using Platform.Ingestion.Warc;

namespace Platform.Ingestion.Tests.Stages;

/// <summary>The cluster's extraction stages, driven here in one process with a counter that answers only what was prefetched.</summary>
public sealed class FinishStageTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "finish-stage-" + Guid.NewGuid().ToString("N"));

    public FinishStageTests() => Directory.CreateDirectory(root);

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0, 0, 13];

    /// <summary>
    /// Pages with a caption shared by too many images (the frequency stage's), text repeated from page to page (the job-wide span
    /// dedupe's), and images in the dump (whose offsets a later part of the file must shift).
    /// </summary>
    private string WriteDump()
    {
        var path = Path.Combine(root, "dump.warc.gz");
        using var file = File.Create(path);
        using var warc = new WarcWriter(file);
        warc.WriteWarcInfo("dump.warc.gz", [new("software", "tests")]);
        for (var page = 0; page < 40; page++)
        {
            var html = $"<html lang=en><title>Harbour {page}</title><body>{Runs.RunSamples.Prose}" +
                $"<p>Entry number {page} of the harbour diary tells of boat {page} and its crew of {page % 7 + 2} sailors.</p>" +
                $"<img src='/img/{page}.png' alt='The harbour boat number {page} at dusk'>" +
                $"<img src='/thumb/{page}.png' alt='Click here to see the full photo'></body></html>";
            warc.WriteResponse($"http://site.test/{page}.html", 200, [new("Content-Type", "text/html; charset=utf-8")], Encoding.UTF8.GetBytes(html));
            if (page % 5 == 0) warc.WriteResponse($"http://site.test/img/{page}.png", 200, [new("Content-Type", "image/png")], Png);
        }
        return path;
    }

    [Fact]
    public async Task Units_extracted_apart_and_finished_give_the_outputs_of_one_process()
    {
        var ct = TestContext.Current.CancellationToken;
        var input = WriteDump();
        var options = new ExtractionOptions();
        var whole = Path.Combine(root, "whole");
        await ExtractCommandRunner.RunAsync([input], whole, options, cancellationToken: ct);

        IReadOnlyList<InputUnit> units;
        await using (var file = File.OpenRead(input))
            units = await InputSplitter.PlanAsync(input, file, file.Length / 4, options.Warc, ct);
        Assert.True(units.Count >= 3, $"{units.Count} units");
        var layout = new IngestJobLayout(Path.Combine(root, "job"));
        var folders = new List<UnitFolder>();
        var placements = new List<UnitPlacement>();
        for (var i = 0; i < units.Count; i++)
        {
            var folder = layout.Unit(i, 1);
            var extracted = await ExtractUnitStage.RunAsync(units[i], folder, options, new DumpInputs(), null, ct);
            folders.Add(folder);
            placements.Add(new UnitPlacement(units[i].Start, extracted.Extent.DecompressedStart, extracted.Extent.DecompressedBytes));
        }
        var counter = new PrefetchedCounts(options.Frequency);

        var kept = await FinishStage.RunAsync(new FinishRequest(layout, 1, folders, options, FinishStage.ImageOffsetShifts(placements)), counter, ct);

        Assert.True(counter.Prefetches > 0);
        Assert.Equal(File.ReadLines(Path.Combine(whole, IngestJobLayout.CandidatesFile)).Count(), kept);
        foreach (var name in IngestJobLayout.ExtractionOutputs)
            Assert.True(File.ReadAllBytes(Path.Combine(whole, name)).SequenceEqual(File.ReadAllBytes(Path.Combine(layout.Root, name))), $"{name} differs");
        Assert.Contains("alt_shared_by_too_many_images", File.ReadAllText(layout.Rejected));
        Assert.Contains("duplicate_spans", File.ReadAllText(layout.Stats));
        Assert.False(Directory.Exists(layout.FinishDirectory(1)));
    }

    [Fact]
    public void Image_offsets_of_later_parts_of_a_file_follow_the_parts_before_them()
    {
        // Two parts of one gzip file (offsets from each part's start), then a whole file.
        var shifts = FinishStage.ImageOffsetShifts([new(0, 0, 1000), new(500, 0, 700), new(0, 0, 300)]);

        Assert.Equal([0L, 1000L, 0L], shifts);
    }

    /// <summary>Counts in memory that, like the partitioned grains, are complete only once flushed and answer only pairs prefetched.</summary>
    private sealed class PrefetchedCounts(FrequencyFilterOptions options) : IBatchedPairFrequencyCounter
    {
        private readonly InProcessPairFrequencyCounter counts = new(options);
        private readonly HashSet<string> images = new(StringComparer.Ordinal);
        private readonly HashSet<string> alts = new(StringComparer.Ordinal);
        private bool flushed;

        public int Prefetches { get; private set; }

        public void Observe(string imageUrl, string altText)
        {
            if (flushed) throw new InvalidOperationException("observed after the flush");
            counts.Observe(imageUrl, altText);
        }

        public Task FlushAsync()
        {
            flushed = true;
            return Task.CompletedTask;
        }

        public Task PrefetchAsync(IEnumerable<(string ImageUrl, string AltText)> pairs)
        {
            if (!flushed) throw new InvalidOperationException("prefetched before the counts were complete");
            images.Clear();
            alts.Clear();
            foreach (var (image, alt) in pairs)
            {
                images.Add(image);
                alts.Add(alt);
            }
            Prefetches++;
            return Task.CompletedTask;
        }

        public int DistinctImagesFor(string altText) =>
            alts.Contains(altText) ? counts.DistinctImagesFor(altText) : throw new InvalidOperationException($"'{altText}' was not prefetched");

        public int DistinctAltTextsFor(string imageUrl) =>
            images.Contains(imageUrl) ? counts.DistinctAltTextsFor(imageUrl) : throw new InvalidOperationException($"'{imageUrl}' was not prefetched");
    }
}
