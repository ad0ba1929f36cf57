using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;

namespace Platform.Ingestion.Stages;

/// <summary>
/// The run-wide stage after extraction: ALIGN's frequency filters over the final counts of the whole run, and the
/// opt-out of images found in the dump. Each pair, in input order, is handed to the sink as accepted (marked when the
/// dump holds its image) or rejected with the reason; the funnel's <see cref="ExtractionRun.FrequencyStage"/> says how many.
/// </summary>
public static class FrequencyFilterStage
{
    /// <param name="counts">Final counts of every pair of the run (see <see cref="CountPairsStage"/>).</param>
    /// <returns>The pairs kept.</returns>
    public static long Run(IEnumerable<PairCandidate> pairs, IPairFrequencyCounter counts, IImageIndex images, ExtractionOptions options,
        IExtractionSink sink, FunnelStats stats, CancellationToken cancellationToken)
    {
        long kept = 0;
        foreach (var spooled in pairs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            stats.Enter(ExtractionRun.FrequencyStage);
            var inDump = images.TryGet(spooled.ImageUrl, out var dumped);
            var candidate = inDump ? spooled with { ImageInDump = true } : spooled;
            var reason = FrequencyFilter.Check(counts, options.Frequency, candidate.ImageUrl, candidate.AltText!);
            if (reason is null && options.AltText.HonourOptOut && dumped is not null && (dumped.Robots & AltTextFilter.OptOut) != 0) reason = "image_opt_out";
            if (reason is not null)
            {
                stats.Reject(ExtractionRun.FrequencyStage, reason);
                sink.Rejected(candidate, reason);
                continue;
            }
            stats.Pass(ExtractionRun.FrequencyStage);
            kept++;
            sink.Accepted(candidate);
        }
        return kept;
    }

    /// <summary>
    /// The run-wide stages of one process after <paramref name="run"/>'s last input: ends its per-pair stages, counts its
    /// spooled pairs in memory and filters them into <paramref name="sink"/>, its funnel taking the frequency stage.
    /// </summary>
    /// <returns>The pairs kept.</returns>
    public static long RunInProcess(ExtractionRun run, IExtractionSink sink, CancellationToken cancellationToken)
    {
        run.Complete();
        var counts = new InProcessPairFrequencyCounter(run.Options.Frequency);
        CountPairsStage.Run(run.Spool.ReadAll(), counts, cancellationToken);
        return Run(run.Spool.ReadAll(), counts, run.Images, run.Options, sink, run.Stats, cancellationToken);
    }
}
