using System.Diagnostics;
using Platform.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Benchmarks;

/// <summary>Seconds of one round: the same images captioned with the key/value cache and without it.</summary>
public sealed record DecodeRound(double CachedSeconds, double UncachedSeconds);

/// <summary>Result of `platform bench decode`: captions per second with and without the key/value cache.</summary>
public sealed record DecodeBenchmarkResult(
    string Device, int Images, int CaptionTokens, int BeamSize, int Threads, double MeanCaptionTokens, bool SameCaptions, IReadOnlyList<DecodeRound> Rounds)
{
    public double CachedCaptionsPerSecond => Images / BenchmarkStatistics.Median(Rounds.Select(r => r.CachedSeconds));

    public double UncachedCaptionsPerSecond => Images / BenchmarkStatistics.Median(Rounds.Select(r => r.UncachedSeconds));

    /// <summary>
    /// The median over rounds of each round's uncached over cached seconds. The two decoders of a round run one after the
    /// other, so load on the machine falls on both; the ratio of the two medians paired a cached round of about 0.2 s
    /// from one moment with an uncached one from another, and moved from 8.94 to 10.42 between two runs whose per-round
    /// medians were 9.96 and 10.22.
    /// </summary>
    public double Speedup => BenchmarkStatistics.Median(Rounds.Select(r => r.UncachedSeconds / r.CachedSeconds));

}

/// <summary>
/// Captions the same random images with one random-initialised model twice per round, with the
/// key/value cache and with the decoder rerun over the whole text each token, after a warm-up round
/// that is not counted; the two alternate so that load on the machine falls on both alike. A
/// random-initialised model almost never ends a caption early (end-of-text is one token among the
/// vocabulary), so the captions run to the length asked for; the mean length is reported.
/// </summary>
public static class DecodeBenchmark
{
    /// <param name="device">cpu, cuda or cuda:N (fp32 either way).</param>
    public static DecodeBenchmarkResult Run(SimVlmConfig config, int images = 16, int captionTokens = 20, int rounds = 5, int beamSize = 1, int threads = 0, long seed = 1, string device = "cpu")
    {
        if (images < 1 || captionTokens < 1 || rounds < 1 || beamSize < 1) throw new ArgumentException("Images, caption tokens, rounds and beam size must be positive.");
        if (captionTokens >= config.MaxTextLength) throw new ArgumentException($"Captions of {captionTokens} tokens do not fit the model's {config.MaxTextLength} text positions with end-of-text.");
        if (device.StartsWith("cuda", StringComparison.Ordinal) && !cuda.is_available())
            throw new ArgumentException($"Device {device}: libtorch finds no CUDA device here (the CPU bundle never does; see the README's GPU build).");
        if (threads > 0) set_num_threads(threads);
        // The model's own stream, not libtorch's default generator: a run training in the same process holds that one.
        using var model = new SimVlmModel(config, new TorchRandomStream((ulong)seed));
        model.to(torch.device(device));
        model.eval();
        var random = new DeterministicRandom((ulong)seed);
        using var scope = NewDisposeScope();
        var pixels = tensor(Enumerable.Range(0, images * 3 * config.ImageSize * config.ImageSize).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(),
            [images, 3, config.ImageSize, config.ImageSize]);
        int[][] prompts = Enumerable.Range(0, images).Select(_ => Array.Empty<int>()).ToArray();
        DecodedText[] Caption(bool cached) => beamSize == 1
            ? CaptionDecoder.Greedy(model, pixels, prompts, captionTokens, useKeyValueCache: cached)
            : CaptionDecoder.BeamBatch(model, pixels, prompts, beamSize, captionTokens, useKeyValueCache: cached);
        (DecodedText[] Captions, double Seconds) Timed(bool cached)
        {
            var clock = Stopwatch.StartNew();
            var captions = Caption(cached);
            return (captions, clock.Elapsed.TotalSeconds);
        }

        var cachedCaptions = Caption(cached: true);
        var uncachedCaptions = Caption(cached: false);
        bool same = cachedCaptions.Zip(uncachedCaptions).All(pair => pair.First.Tokens.SequenceEqual(pair.Second.Tokens));
        var measured = new List<DecodeRound>();
        for (int round = 0; round < rounds; round++)
        {
            // Alternate which goes first, so that neither always follows the other's cache-warm memory.
            var first = Timed(cached: round % 2 == 0);
            var second = Timed(cached: round % 2 != 0);
            measured.Add(round % 2 == 0 ? new DecodeRound(first.Seconds, second.Seconds) : new DecodeRound(second.Seconds, first.Seconds));
        }
        return new DecodeBenchmarkResult(device, images, captionTokens, beamSize, get_num_threads(), cachedCaptions.Average(c => c.Tokens.Length), same, measured);
    }
}
