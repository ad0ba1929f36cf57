using Platform.Ingestion.Html;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Warc;
using Platform.Silo.Demo;

namespace Platform.Tests.Demo;

/// <summary>The demo's web site and its capture into a WARC: deterministic per seed, every kind of noise planted, a dump the platform reads.</summary>
public sealed class DemoWebSiteTests
{
    private static readonly DemoSiteOptions Small = new() { Seed = 7, Pictures = 40, PictureSize = 200 };

    [Fact]
    public void The_same_seed_gives_the_same_site_byte_for_byte_and_another_seed_another_site()
    {
        var first = DemoWebSite.Generate(Small);
        var again = DemoWebSite.Generate(Small);
        var other = DemoWebSite.Generate(Small with { Seed = 8 });

        Assert.Equal(first.Resources.Keys.Order(StringComparer.Ordinal), again.Resources.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, resource) in first.Resources)
            Assert.True(resource.Body.AsSpan().SequenceEqual(again.Resources[path].Body), $"{path} differs between two sites of seed 7");
        Assert.Equal(first.Pictures, again.Pictures);
        Assert.NotEqual(first.Pictures.Select(p => p.AltText), other.Pictures.Select(p => p.AltText));
    }

    [Fact]
    public void Every_kind_of_noise_is_planted_where_its_filter_will_see_it()
    {
        var site = DemoWebSite.Generate(Small);

        foreach (var kind in new[]
                 {
                     DemoNoise.OneWordAlt, DemoNoise.DuplicateUrl, DemoNoise.DuplicateBytes, DemoNoise.NearDuplicate, DemoNoise.OtherLanguage,
                     DemoNoise.OptedOutPage, DemoNoise.OptedOutImage, DemoNoise.BrokenImage, DemoNoise.RobotsDisallowed,
                 })
            Assert.True(site.NoiseCounts.GetValueOrDefault(kind) > 0, $"no {kind} on the site");
        var extractor = new HtmlExtractor();
        HtmlPage Page(string path) => extractor.Extract(site.Resources[path].Body, "http://site.example" + path, collectText: false);

        var pictures = site.Pictures.ToLookup(p => p.Noise);
        Assert.All(pictures[DemoNoise.OneWordAlt], p => Assert.DoesNotContain(' ', p.AltText));
        Assert.All(pictures[DemoNoise.DuplicateUrl], p => Assert.Contains(pictures[null], clean => clean.Image == p.Image));
        Assert.All(pictures[DemoNoise.DuplicateBytes], p =>
            Assert.Contains(pictures[null], clean => clean.Image != p.Image && site.Resources[clean.Image].Body.AsSpan().SequenceEqual(site.Resources[p.Image].Body)));
        Assert.All(pictures[DemoNoise.OtherLanguage], p => Assert.Equal("de", Page(p.Page).Language));
        Assert.All(pictures[DemoNoise.OptedOutPage], p => Assert.True((Page(p.Page).Robots & RobotsDirectives.NoAi) != 0));
        Assert.All(pictures[DemoNoise.OptedOutImage], p => Assert.Contains(site.Resources[p.Image].Headers, h => h.Key == "X-Robots-Tag" && h.Value.Contains("noai")));
        Assert.All(pictures[DemoNoise.RobotsDisallowed], p => Assert.StartsWith(DemoWebSite.RobotsDisallowedPrefix, p.Page));
        Assert.Contains($"Disallow: {DemoWebSite.RobotsDisallowedPrefix}", System.Text.Encoding.UTF8.GetString(site.Resources["/robots.txt"].Body));
        // A cut-short JPEG has no end-of-image marker; a whole one ends with FF D9.
        Assert.All(pictures[DemoNoise.BrokenImage], p => Assert.False(site.Resources[p.Image].Body.AsSpan().EndsWith(new byte[] { 0xFF, 0xD9 })));
        Assert.All(pictures[null], p => Assert.True(site.Resources[p.Image].Body.AsSpan().EndsWith(new byte[] { 0xFF, 0xD9 })));
        // Navigation icons: tiny images with one-word alt texts on every gallery page.
        var icons = Page("/gallery/page-001.html").Images.Where(i => i.ImageUrl.Contains("/static/", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(icons);
        Assert.All(icons, i => Assert.True(i.Width <= 32 && i.Height <= 32));
    }

    [Fact]
    public async Task The_capture_is_a_warc_the_platform_reads_with_every_allowed_page_and_image_and_nothing_robots_txt_disallows()
    {
        var site = DemoWebSite.Generate(Small);
        using var folder = new TempDirectory();

        DemoCaptureSummary capture;
        await using (var server = await DemoSiteServer.StartAsync(site, TestContext.Current.CancellationToken))
            capture = await DemoCapture.RunAsync(server.BaseAddress, folder.Path, "demo-test", TestContext.Current.CancellationToken);

        var stats = new FunnelStats();
        // The HTTP head of each response, copied while reading: a record's block is a window into the reader's buffer.
        var responses = new Dictionary<string, string>(StringComparer.Ordinal);
        var requests = 0;
        foreach (var file in capture.WarcFiles)
        {
            using var stream = File.OpenRead(file);
            using var reader = new WarcReader(stream, stats);
            foreach (var record in reader.ReadAll(TestContext.Current.CancellationToken))
            {
                if (record.Type == "request") requests++;
                if (record.Type != "response") continue;
                var block = record.Block.Span;
                var headEnd = block.IndexOf("\r\n\r\n"u8);
                responses[new Uri(record.TargetUri!).AbsolutePath] = System.Text.Encoding.ASCII.GetString(headEnd < 0 ? block : block[..headEnd]);
            }
        }
        Assert.Equal(0, stats.Stage(WarcReader.Stage).RejectedTotal);
        Assert.Equal(responses.Count, requests);

        var allowed = site.Resources.Keys.Where(p => !p.StartsWith(DemoWebSite.RobotsDisallowedPrefix, StringComparison.Ordinal)).ToHashSet();
        var disallowed = site.Pictures.Where(p => p.Noise == DemoNoise.RobotsDisallowed).SelectMany(p => new[] { p.Page, p.Image }).ToHashSet();
        Assert.Equal(allowed.Except(disallowed).Order(StringComparer.Ordinal), responses.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(1, capture.RobotsDisallowedPages);
        var optedOut = site.Pictures.First(p => p.Noise == DemoNoise.OptedOutImage).Image;
        Assert.Contains("X-Robots-Tag: noai", responses[optedOut]);
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("demo-site-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
