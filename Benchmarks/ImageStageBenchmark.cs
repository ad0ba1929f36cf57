using System.Diagnostics;
using Platform.Ingestion.Images;
using SkiaSharp;

namespace Platform.Benchmarks;

/// <summary>One row of the image-stage benchmark: both rates measured over the same images and core count.</summary>
public sealed record ImageBenchmarkRow(int Cores, double PipelineImagesPerSecond, double BareImagesPerSecond)
{
    public double Ratio => PipelineImagesPerSecond / BareImagesPerSecond;
}

/// <summary>
/// Times <see cref="ImageProcessor"/> (header checks, decode, orientation, pHash, SHA-256, resize, JPEG encode)
/// against a bare SkiaSharp decode + resize + encode loop over the same generated JPEG/PNG images.
/// </summary>
public static class ImageStageBenchmark
{
    /// <summary>Deterministic photos-like test images of mixed sizes, about two thirds JPEG and one third PNG.</summary>
    public static List<byte[]> GenerateImages(int count, int seed = 1)
    {
        var random = new Random(seed);
        var images = new List<byte[]>(count);
        for (var i = 0; i < count; i++)
        {
            var width = random.Next(240, 1280);
            var height = Math.Clamp((int)(width * (0.5 + random.NextDouble())), 240, 1280);
            using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(bitmap))
            {
                using var shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height),
                    [RandomColour(random), RandomColour(random)], SKShaderTileMode.Clamp);
                using var background = new SKPaint { Shader = shader };
                canvas.DrawRect(0, 0, width, height, background);
                for (var s = 0; s < 20; s++)
                {
                    using var paint = new SKPaint { Color = RandomColour(random), IsAntialias = true };
                    canvas.DrawCircle(random.Next(width), random.Next(height), random.Next(10, width / 4), paint);
                }
            }
            var format = i % 3 == 2 ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg;
            using var data = bitmap.Encode(format, 90);
            images.Add(data.ToArray());
        }
        return images;
    }

    private static SKColor RandomColour(Random random) =>
        new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));

    /// <summary>Measures both loops at each core count from 1 to <paramref name="maxCores"/>.</summary>
    public static IEnumerable<ImageBenchmarkRow> Run(IReadOnlyList<byte[]> images, ImageOptions options, int maxCores)
    {
        var processor = new ImageProcessor(options);
        // Warm-up: JIT, native library load, codec tables.
        foreach (var image in images.Take(8))
        {
            processor.Process(image);
            Bare(image, options);
        }
        for (var cores = 1; cores <= maxCores; cores++)
        {
            var pipeline = Rate(images, cores, image =>
            {
                if (!processor.Process(image).Accepted) throw new InvalidOperationException("benchmark image rejected");
            });
            var bare = Rate(images, cores, image => Bare(image, options));
            yield return new ImageBenchmarkRow(cores, pipeline, bare);
        }
    }

    private static double Rate(IReadOnlyList<byte[]> images, int cores, Action<byte[]> work)
    {
        var clock = Stopwatch.StartNew();
        Parallel.ForEach(images, new ParallelOptions { MaxDegreeOfParallelism = cores }, work);
        return images.Count / clock.Elapsed.TotalSeconds;
    }

    /// <summary>The baseline: what a minimal SkiaSharp loop does to store an image at the configured size.</summary>
    private static void Bare(byte[] image, ImageOptions options)
    {
        using var decoded = SKBitmap.Decode(image);
        var size = options.ImageSize;
        using var resized = decoded.Resize(new SKImageInfo(size, size), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        using var encoded = resized.Encode(SKEncodedImageFormat.Jpeg, options.JpegQuality);
    }
}
