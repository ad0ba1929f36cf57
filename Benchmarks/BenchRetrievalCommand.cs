using System.CommandLine;
using System.Globalization;
using Platform.Model;

namespace Platform.Benchmarks;

/// <summary>`platform bench retrieval`: image-caption pairs scored per second by the batched scorer against the per-image one; the last line is retrieval_speedup=.</summary>
public static class BenchRetrievalCommand
{
    public static Command Create()
    {
        var preset = BenchArguments.PresetOption();
        var images = new Option<int>("--images") { Description = "Images scored against every caption.", DefaultValueFactory = _ => 40 };
        var captionsPerImage = new Option<int>("--captions-per-image") { Description = "Captions per image (COCO has 5).", DefaultValueFactory = _ => 5 };
        var batch = new Option<int>("--batch-size") { Description = "Captions per decoder pass, as `platform eval --batch-size`.", DefaultValueFactory = _ => 32 };
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds (after one warm-up round); medians are reported.", DefaultValueFactory = _ => 3 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch (0: its default).", DefaultValueFactory = _ => 0 };
        var seed = new Option<long>("--seed") { Description = "Seed of the model's weights, the images and the captions.", DefaultValueFactory = _ => 1 };
        var command = new Command("retrieval", "Retrieval's pair scoring: captions longest first against many images per decoder pass, against one image's encoder output expanded per batch of captions; same model, images and captions.");
        foreach (var option in new Option[] { preset, images, captionsPerImage, batch, rounds, threads, seed }) command.Options.Add(option);
        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            var b = RetrievalBenchmark.Run(result.Preset(preset), result.AtLeast(images, 1), result.AtLeast(captionsPerImage, 1), result.AtLeast(batch, 1),
                result.AtLeast(rounds, 1), result.AtLeast(threads, 0), result.GetValue(seed));
            string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
            Console.WriteLine(Invariant($"images={b.Images} captions={b.Captions} pairs={b.Pairs} mean_caption_tokens={b.MeanCaptionTokens:F1} captions_per_pass={b.CaptionsPerPass} images_per_pass={b.ImagesPerPass} threads={b.Threads}"));
            for (int i = 0; i < b.Rounds.Count; i++)
                Console.WriteLine(Invariant($"round={i + 1} batched_s={b.Rounds[i].BatchedSeconds:F3} per_image_s={b.Rounds[i].PerImageSeconds:F3}"));
            Console.WriteLine(Invariant($"batched pairs/s={b.BatchedPairsPerSecond:F0} per_image pairs/s={b.PerImagePairsPerSecond:F0} (medians)"));
            Console.WriteLine(Invariant($"projected_1000x5000_s={b.ProjectedSeconds(1000, 5000):F0} (batched, at this rate)"));
            Console.WriteLine(Invariant($"largest_score_difference={b.LargestScoreDifference:E2} same_ranks={(b.SameRanks ? "true" : "false")}"));
            Console.WriteLine(Invariant($"retrieval_speedup={b.Speedup:F2}"));
            return Task.FromResult(b.SameRanks ? 0 : 1);
        });
        return command;
    }
}
