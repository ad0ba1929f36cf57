using System.CommandLine;
using System.Globalization;
using Platform.Model;

namespace Platform.Benchmarks;

/// <summary>`platform bench decode`: captions per second with the key/value cache against the decoder rerun over the whole text; the last line is kv_cache_speedup=.</summary>
public static class BenchDecodeCommand
{
    public static Command Create()
    {
        var preset = BenchArguments.PresetOption();
        var images = new Option<int>("--images") { Description = "Images captioned together in each round.", DefaultValueFactory = _ => 16 };
        var tokens = new Option<int>("--tokens") { Description = "Caption length in tokens.", DefaultValueFactory = _ => 20 };
        // Nine: on an idle machine the uncached rounds of one five-round run ranged from 0.64 to 1.36 s, and the median of five
        // moved the speedup from 7.10 to 8.06 between runs; a round costs about a second, so more of them are cheap.
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds (after one warm-up round); medians are reported.", DefaultValueFactory = _ => 9 };
        var beam = new Option<int>("--beam") { Description = "Beam size (1: greedy).", DefaultValueFactory = _ => 1 };
        // One thread by default: a decoding step is many small operations, for which libtorch's thread
        // pool costs more in hand-offs than it gains, and far more when other processes load the cores.
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch (0: its default).", DefaultValueFactory = _ => 1 };
        var seed = new Option<long>("--seed") { Description = "Seed of the model's weights and the images.", DefaultValueFactory = _ => 1 };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var command = new Command("decode", "Caption decoding speed with the key/value cache against the decoder rerun over the whole text each token, same model and images.");
        foreach (var option in new Option[] { preset, images, tokens, rounds, beam, threads, seed, device }) command.Options.Add(option);
        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            var b = DecodeBenchmark.Run(result.Preset(preset), result.AtLeast(images, 1), result.AtLeast(tokens, 1), result.AtLeast(rounds, 1),
                result.AtLeast(beam, 1), result.AtLeast(threads, 0), result.GetValue(seed), result.GetValue(device)!);
            string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
            Console.WriteLine(Invariant($"device={b.Device} images={b.Images} caption_tokens={b.CaptionTokens} mean_caption_tokens={b.MeanCaptionTokens:F1} beam={b.BeamSize} threads={b.Threads}"));
            for (int i = 0; i < b.Rounds.Count; i++)
                Console.WriteLine(Invariant($"round={i + 1} cached_s={b.Rounds[i].CachedSeconds:F3} uncached_s={b.Rounds[i].UncachedSeconds:F3}"));
            Console.WriteLine(Invariant($"cached captions/s={b.CachedCaptionsPerSecond:F2} uncached captions/s={b.UncachedCaptionsPerSecond:F2} (medians)"));
            Console.WriteLine($"same_captions={(b.SameCaptions ? "true" : "false")}");
            Console.WriteLine("kv_cache_speedup is the median over rounds of uncached_s / cached_s");
            Console.WriteLine(Invariant($"kv_cache_speedup={b.Speedup:F2}"));
            return Task.FromResult(b.SameCaptions ? 0 : 1);
        });
        return command;
    }
}
