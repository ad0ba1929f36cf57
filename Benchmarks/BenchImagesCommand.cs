using System.CommandLine;
using System.Globalization;
using Platform.Ingestion.Images;

namespace Platform.Benchmarks;

/// <summary>`platform bench images`: the image stage's throughput against a bare SkiaSharp loop.</summary>
public static class BenchImagesCommand
{
    public static Command Create()
    {
        var count = new Option<int>("--count") { Description = "Generated images (mixed sizes, JPEG and PNG).", DefaultValueFactory = _ => 300 };
        var maxCores = new Option<int>("--max-cores") { Description = "Measure 1..N cores.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var size = new Option<int>("--size") { Description = "Output size in pixels.", DefaultValueFactory = _ => 256 };
        var mode = new Option<ResizeMode>("--resize-mode") { Description = "no, keepratio, centercrop or border.", DefaultValueFactory = _ => ResizeMode.Border };
        var scaledDecode = new Option<bool>("--scaled-decode") { Description = "Let the pipeline decode large JPEGs at 1/2..1/8 scale.", DefaultValueFactory = _ => true };
        var command = new Command("images", "Image stage (checks, decode, pHash, sha256, resize, encode) vs a bare SkiaSharp decode+resize+encode loop.");
        foreach (var option in new Option[] { count, maxCores, size, mode, scaledDecode }) command.Options.Add(option);
        command.SetAction((ParseResult r, CancellationToken _) =>
        {
            int maximumCores = r.AtLeast(maxCores, 1);
            var images = ImageStageBenchmark.GenerateImages(r.AtLeast(count, 1));
            var options = new ImageOptions
            {
                ImageSize = r.AtLeast(size, 1), ResizeMode = r.GetValue(mode), AllowScaledDecode = r.GetValue(scaledDecode),
                MinShorterSide = 0, MinBytes = 0, MaxAspectRatio = double.MaxValue,
            };
            Console.WriteLine($"{images.Count} images, {images.Sum(i => (long)i.Length) / 1024} KiB, size {options.ImageSize}, mode {options.ResizeMode}, scaled decode {options.AllowScaledDecode}");
            ImageBenchmarkRow? first = null;
            foreach (var row in ImageStageBenchmark.Run(images, options, maximumCores))
            {
                first ??= row;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"cores={row.Cores} pipeline={row.PipelineImagesPerSecond:F1} img/s bare={row.BareImagesPerSecond:F1} img/s ratio={row.Ratio:F3}"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"images_vs_bare={first!.Ratio:F3}"));
            return Task.FromResult(0);
        });
        return command;
    }
}
