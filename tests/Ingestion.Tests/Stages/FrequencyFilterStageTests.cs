using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Html;

namespace Platform.Ingestion.Tests.Stages;

public class FrequencyFilterStageTests
{
    private static PairCandidate Pair(string image, string alt) => new()
    {
        PageUrl = "http://site.test/page.html",
        ImageUrl = image,
        AltText = alt,
        Language = "en",
        Origin = "img",
        Source = "dump.warc.gz",
    };

    /// <summary>Counts as a partitioned counter would answer them, whatever pairs were observed.</summary>
    private sealed class GivenCounts(Dictionary<string, int> imagesPerAlt, Dictionary<string, int> altsPerImage) : IPairFrequencyCounter
    {
        public void Observe(string imageUrl, string altText) => throw new InvalidOperationException("The frequency stage only reads counts.");
        public int DistinctImagesFor(string altText) => imagesPerAlt.GetValueOrDefault(altText, 1);
        public int DistinctAltTextsFor(string imageUrl) => altsPerImage.GetValueOrDefault(imageUrl, 1);
    }

    [Fact]
    public void Judges_each_pair_against_the_given_counts_in_input_order()
    {
        var pairs = new[]
        {
            Pair("http://site.test/a.jpg", "Click here for the full photo"),
            Pair("http://site.test/b.jpg", "The old mill by the river"),
            Pair("http://site.test/spacer.gif", "A harbour at dusk with boats"),
            Pair("http://site.test/c.jpg", "Gulls above the stone pier"),
        };
        var counts = new GivenCounts(new() { ["Click here for the full photo"] = 11 }, new() { ["http://site.test/spacer.gif"] = 1001 });
        var sink = new CollectingSink();
        var stats = new FunnelStats();

        var kept = FrequencyFilterStage.Run(pairs, counts, new InProcessImageIndex(), new ExtractionOptions(), sink, stats, TestContext.Current.CancellationToken);

        Assert.Equal(2, kept);
        Assert.Equal(["http://site.test/b.jpg", "http://site.test/c.jpg"], sink.Accepted.Select(p => p.ImageUrl));
        Assert.Equal([("http://site.test/a.jpg", "alt_shared_by_too_many_images"), ("http://site.test/spacer.gif", "image_has_too_many_alts")],
            sink.Rejected.Select(r => (r.Candidate.ImageUrl, r.Reason)));
        var stage = stats.Stage(ExtractionRun.FrequencyStage);
        Assert.Equal((4, 2), (stage.In, stage.Passed));
        Assert.Equal(1, stats.Rejections(ExtractionRun.FrequencyStage, "alt_shared_by_too_many_images"));
    }

    [Fact]
    public void Limits_are_exclusive_so_a_count_at_the_limit_is_kept()
    {
        var pairs = new[] { Pair("http://site.test/a.jpg", "Ten images share this caption") };
        var counts = new GivenCounts(new() { ["Ten images share this caption"] = 10 }, new() { ["http://site.test/a.jpg"] = 1000 });
        var sink = new CollectingSink();

        var kept = FrequencyFilterStage.Run(pairs, counts, new InProcessImageIndex(), new ExtractionOptions(), sink, new FunnelStats(),
            TestContext.Current.CancellationToken);

        Assert.Equal(1, kept);
        Assert.Empty(sink.Rejected);
    }

    [Fact]
    public void Marks_pairs_whose_image_the_dump_holds_and_drops_images_that_opted_out()
    {
        var images = new InProcessImageIndex();
        images.Add(new DumpedImage("http://site.test/in-dump.jpg", "dump.warc.gz", "<urn:1>", 10, 0, "image/jpeg", 100, RobotsDirectives.None));
        images.Add(new DumpedImage("http://site.test/opted.jpg", "dump.warc.gz", "<urn:2>", 20, 0, "image/jpeg", 100, RobotsDirectives.NoAi));
        var pairs = new[]
        {
            Pair("http://site.test/in-dump.jpg", "The old mill by the river"),
            Pair("http://site.test/opted.jpg", "A picture that opted out"),
            Pair("http://site.test/web.jpg", "Gulls above the stone pier"),
        };
        var sink = new CollectingSink();

        FrequencyFilterStage.Run(pairs, new GivenCounts([], []), images, new ExtractionOptions(), sink, new FunnelStats(), TestContext.Current.CancellationToken);

        Assert.Equal([("http://site.test/in-dump.jpg", true), ("http://site.test/web.jpg", false)], sink.Accepted.Select(p => (p.ImageUrl, p.ImageInDump)));
        var (rejected, reason) = Assert.Single(sink.Rejected);
        Assert.Equal(("http://site.test/opted.jpg", "image_opt_out"), (rejected.ImageUrl, reason));
    }

    [Fact]
    public void Count_stage_counts_distinct_images_per_alt_text_and_alt_texts_per_image()
    {
        var pairs = new[]
        {
            Pair("http://site.test/a.jpg", "Click here"),
            Pair("http://site.test/b.jpg", "Click here"),
            Pair("http://site.test/b.jpg", "click here "),
            Pair("http://site.test/b.jpg", "The old mill"),
        };
        var counter = new InProcessPairFrequencyCounter(new FrequencyFilterOptions());

        CountPairsStage.Run(pairs, counter, TestContext.Current.CancellationToken);

        Assert.Equal(2, counter.DistinctImagesFor("Click here"));
        Assert.Equal(2, counter.DistinctAltTextsFor("http://site.test/b.jpg"));
        Assert.Equal(1, counter.DistinctAltTextsFor("http://site.test/a.jpg"));
    }
}
