using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;

namespace Platform.Ingestion.Stages;

/// <summary>
/// Counts every pair that passed the per-pair filters into the run-wide co-occurrence counts the frequency filter
/// needs. The counter is the executor's: in memory for one process, partitioned count grains for a cluster.
/// </summary>
public static class CountPairsStage
{
    public static void Run(IEnumerable<PairCandidate> pairs, IPairFrequencyCounter counter, CancellationToken cancellationToken)
    {
        foreach (var pair in pairs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            counter.Observe(pair.ImageUrl, pair.AltText!);
        }
    }
}
