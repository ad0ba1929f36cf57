using System.Numerics;
using CsCheck;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Images;
using Platform.Ingestion.Tests.Images;
using SkiaSharp;
using Xunit;

namespace Platform.Ingestion.Tests.Dedupe;

public class DedupeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly ImageProcessor Processor = new(new ImageOptions
    {
        MinShorterSide = 32, MinBytes = 0, ResizeMode = ResizeMode.CenterCrop, ImageSize = 64,
    });

    private static ProcessedImage Process(byte[] payload) =>
        Processor.Process(payload).Image ?? throw new InvalidOperationException("test image rejected");

    private static byte[] Variant(SKBitmap original, Func<SKBitmap, SKBitmap> change, int quality)
    {
        using var changed = change(original);
        return TestImages.Encode(changed, SKEncodedImageFormat.Jpeg, quality);
    }

    private static SKBitmap Resized(SKBitmap source, int width, int height) =>
        source.Resize(new SKImageInfo(width, height, source.ColorType, source.AlphaType),
            new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));

    private static SKBitmap Cropped(SKBitmap source, double fraction)
    {
        int dx = (int)(source.Width * fraction), dy = (int)(source.Height * fraction);
        var result = new SKBitmap(new SKImageInfo(source.Width - 2 * dx, source.Height - 2 * dy, source.ColorType, source.AlphaType));
        source.ExtractSubset(result, new SKRectI(dx, dy, source.Width - dx, source.Height - dy));
        var copy = result.Copy();
        result.Dispose();
        return copy;
    }

    [Fact]
    public void Band_index_finds_exactly_what_a_full_scan_finds()
    {
        Gen.Select(Gen.ULong.Array[1, 60], Gen.ULong, Gen.Int[0, 12], Gen.Int[0, 10]).Sample((stored, query, flips, maxDistance) =>
        {
            var index = new LshHammingIndex(maxDistance);
            foreach (var h in stored) index.Add(h);
            // Queries near a stored hash exercise the "found" side; the raw query the "not found" side.
            var near = stored[0];
            var random = new Random((int)query);
            for (var i = 0; i < flips; i++) near ^= 1UL << random.Next(64);
            foreach (var q in new[] { query, near })
            {
                var scan = stored.Any(h => BitOperations.PopCount(h ^ q) <= maxDistance);
                var found = index.Find(q);
                if (scan != found.HasValue) return false;
                if (found is { } f && BitOperations.PopCount(f ^ q) > maxDistance) return false;
            }
            return true;
        }, iter: 300);
    }

    [Fact]
    public async Task Reencoded_resized_and_slightly_cropped_copies_are_removed()
    {
        using var original = TestImages.Scene(480, 360, seed: 21);
        var filter = DedupeFilter.CreateInProcess(new DedupeOptions());
        var delta = new DedupeDelta();
        var first = TestImages.Encode(original, SKEncodedImageFormat.Png);
        Assert.Null(await filter.AdmitAsync(Process(first), "a scene", delta, Ct));

        var copies = new Dictionary<string, byte[]>
        {
            ["same bytes"] = first,
            ["re-encoded at quality 40"] = TestImages.Encode(original, SKEncodedImageFormat.Jpeg, 40),
            ["resized to half"] = Variant(original, b => Resized(b, 240, 180), 85),
            ["resized up"] = Variant(original, b => Resized(b, 640, 480), 85),
            ["cropped 3% each side"] = Variant(original, b => Cropped(b, 0.03), 85),
        };
        foreach (var (name, bytes) in copies)
        {
            var reason = await filter.AdmitAsync(Process(bytes), "a scene", delta, Ct);
            var expected = name == "same bytes" ? DedupeReasons.DuplicateImageBytes : DedupeReasons.NearDuplicateImage;
            Assert.True(reason == expected, $"{name}: got {reason ?? "kept"}, expected {expected}");
        }
        // Every checked image but the exact copy is recorded, dropped or not (the earliest-wins rule).
        Assert.Equal(copies.Count, delta.ImageHashes.Count);
    }

    [Fact]
    public async Task Distinct_images_with_similar_colours_are_all_kept()
    {
        var filter = DedupeFilter.CreateInProcess(new DedupeOptions());
        var delta = new DedupeDelta();
        var tint = new SKColor(200, 80, 40);
        for (var seed = 0; seed < 16; seed++)
        {
            using var scene = TestImages.Scene(160, 120, seed: 1000 + seed, tint: tint);
            var image = Process(TestImages.Encode(scene, SKEncodedImageFormat.Jpeg, 85));
            Assert.Null(await filter.AdmitAsync(image, $"scene {seed}", delta, Ct));
        }
        Assert.Equal(16, delta.ImageHashes.Count);
    }

    [Fact]
    public async Task Near_duplicates_of_evaluation_images_are_dropped_and_others_kept()
    {
        var folder = Directory.CreateTempSubdirectory("eval-images").FullName;
        try
        {
            using var evalA = TestImages.Scene(300, 200, seed: 500);
            using var evalB = TestImages.Scene(300, 200, seed: 501);
            File.WriteAllBytes(Path.Combine(folder, "a.png"), TestImages.Encode(evalA, SKEncodedImageFormat.Png));
            File.WriteAllBytes(Path.Combine(folder, "b.jpg"), TestImages.Encode(evalB, SKEncodedImageFormat.Jpeg));
            File.WriteAllText(Path.Combine(folder, "README.txt"), "not an image");
            var filter = DedupeFilter.CreateInProcess(new DedupeOptions { EvaluationImagesFolder = folder }, Processor);
            var delta = new DedupeDelta();

            var contaminated = Process(Variant(evalA, b => Resized(b, 150, 100), 70));
            Assert.Equal(DedupeReasons.EvaluationNearDuplicate, await filter.AdmitAsync(contaminated, "x", delta, Ct));
            using var unrelated = TestImages.Scene(300, 200, seed: 502);
            Assert.Null(await filter.AdmitAsync(Process(TestImages.Encode(unrelated, SKEncodedImageFormat.Jpeg)), "y", delta, Ct));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Evaluation_set_counts_unreadable_files()
    {
        var folder = Directory.CreateTempSubdirectory("eval-images").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(folder, "a.jpg"), TestImages.Jpeg(40, 40, seed: 1));
            File.WriteAllText(Path.Combine(folder, "notes.txt"), "not an image");
            var set = EvaluationImageSet.Load(folder, 8, Processor);
            Assert.Equal((1, 1), (set.Count, set.UnreadableFiles));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Same_url_is_attempted_once()
    {
        var filter = DedupeFilter.CreateInProcess(new DedupeOptions());
        var delta = new DedupeDelta();
        Assert.Null(await filter.ClaimUrlAsync("https://example.test/a.jpg", delta, Ct));
        Assert.Equal(DedupeReasons.DuplicateUrl, await filter.ClaimUrlAsync("https://example.test/a.jpg ", delta, Ct));
        Assert.Null(await filter.ClaimUrlAsync("https://example.test/b.jpg", delta, Ct));
    }

    [Fact]
    public async Task Near_duplicate_captions_are_dropped_when_text_dedupe_is_on()
    {
        var filter = DedupeFilter.CreateInProcess(new DedupeOptions { TextJaccardThreshold = 0.7 });
        var delta = new DedupeDelta();
        const string caption = "a red vintage car parked on a cobbled street in the old town at dusk";
        Assert.Null(await filter.AdmitAsync(Process(TestImages.Jpeg(64, 64, seed: 1)), caption, delta, Ct));
        Assert.Equal(DedupeReasons.NearDuplicateText,
            await filter.AdmitAsync(Process(TestImages.Jpeg(64, 64, seed: 2)), "A red vintage car parked on a cobbled street in the old town at dusk!", delta, Ct));
        Assert.Null(await filter.AdmitAsync(Process(TestImages.Jpeg(64, 64, seed: 3)), "two children flying a kite on a windy beach", delta, Ct));
    }

    [Fact]
    public async Task Persisted_delta_restores_the_state_in_a_new_filter()
    {
        var options = new DedupeOptions { TextJaccardThreshold = 0.8 };
        var first = DedupeFilter.CreateInProcess(options);
        var delta = new DedupeDelta();
        var jpeg = TestImages.Jpeg(64, 64, seed: 8);
        await first.ClaimUrlAsync("https://example.test/8.jpg", delta, Ct);
        await first.AdmitAsync(Process(jpeg), "caption eight words long enough here", delta, Ct);
        using var stream = new MemoryStream();
        delta.WriteTo(stream);
        stream.Position = 0;

        var second = DedupeFilter.CreateInProcess(options);
        await second.ApplyAsync(DedupeDelta.ReadFrom(stream), Ct);

        var scratch = new DedupeDelta();
        Assert.Equal(DedupeReasons.DuplicateUrl, await second.ClaimUrlAsync("https://example.test/8.jpg", scratch, Ct));
        Assert.Equal(DedupeReasons.DuplicateImageBytes, await second.AdmitAsync(Process(jpeg), "other", scratch, Ct));
    }

    [Fact]
    public async Task Captions_kept_with_too_many_images_are_dropped_as_boilerplate_and_the_count_survives_a_restart()
    {
        var options = new DedupeOptions { MaxImagesPerCaption = 2 };
        var filter = DedupeFilter.CreateInProcess(options);
        var delta = new DedupeDelta();
        Assert.Null(await filter.AdmitAsync(Process(TestImages.Jpeg(64, 64, seed: 41)), "Click here", delta, Ct));
        Assert.Null(await filter.AdmitAsync(Process(TestImages.Jpeg(64, 64, seed: 42)), "click here ", delta, Ct));
        Assert.Equal(DedupeReasons.BoilerplateCaption,
            await filter.AdmitAsync(Process(TestImages.Jpeg(64, 64, seed: 43)), "CLICK HERE", delta, Ct));
        Assert.Null(await filter.AdmitAsync(Process(TestImages.Jpeg(64, 64, seed: 44)), "a heron at dawn", delta, Ct));

        using var stream = new MemoryStream();
        delta.WriteTo(stream);
        stream.Position = 0;
        var restarted = DedupeFilter.CreateInProcess(options);
        await restarted.ApplyAsync(DedupeDelta.ReadFrom(stream), Ct);
        Assert.Equal(DedupeReasons.BoilerplateCaption,
            await restarted.AdmitAsync(Process(TestImages.Jpeg(64, 64, seed: 45)), "click here", new DedupeDelta(), Ct));
    }
}
