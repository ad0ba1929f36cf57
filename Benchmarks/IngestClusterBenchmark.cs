using System.Diagnostics;
using Platform.Datasets;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Stages;

namespace Platform.Benchmarks;

/// <summary>
/// Storage that the silos of an in-process cluster share, with the wiring that gives a silo the platform's grain state,
/// reminders and blob clients on it. The host provides it (it owns the storage emulator and the storage wiring), so the
/// benchmarks need nothing of the host's assembly. Disposing it stops the storage.
/// </summary>
public interface IClusterStorage : IAsyncDisposable
{
    void AddTo(ISiloBuilder silo);
}

/// <summary>One round of the benchmark: each way of running the same input once, in seconds.</summary>
public sealed record IngestClusterRound(double SingleProcessSeconds, double OneSiloSeconds, double TwoSiloSeconds);

/// <summary>
/// What `platform bench ingest-cluster` measured; every time is from the job's submission (or the run's start) to its dataset.
/// The figures are the medians over the rounds, which alternate the three ways, so a burst of load on a shared machine
/// lands on one round of one of them rather than deciding the ratio.
/// </summary>
public sealed record IngestClusterBenchmarkResult(int Files, long Pages, long Pairs, long Stored, IReadOnlyList<IngestClusterRound> Rounds, bool SameDataset)
{
    public double SingleProcessSeconds => BenchmarkStatistics.Median(Rounds.Select(r => r.SingleProcessSeconds));
    public double OneSiloSeconds => BenchmarkStatistics.Median(Rounds.Select(r => r.OneSiloSeconds));
    public double TwoSiloSeconds => BenchmarkStatistics.Median(Rounds.Select(r => r.TwoSiloSeconds));

    /// <summary>The cluster job on one silo against the bare library on the same input: what orchestration costs.</summary>
    public double ClusterOverhead => OneSiloSeconds / SingleProcessSeconds;


    public IEnumerable<string> Lines()
    {
        yield return $"input files={Files} pages={Pages} pairs={Pairs} samples_stored={Stored}";
        for (var i = 0; i < Rounds.Count; i++)
            yield return $"round {i + 1} single_process={Rounds[i].SingleProcessSeconds:F2}s cluster_1_silo={Rounds[i].OneSiloSeconds:F2}s cluster_2_silos={Rounds[i].TwoSiloSeconds:F2}s";
        yield return $"medians over {Rounds.Count} round(s):";
        yield return $"single_process seconds={SingleProcessSeconds:F2} pairs_per_s={Pairs / SingleProcessSeconds:F1}";
        yield return $"cluster_1_silo seconds={OneSiloSeconds:F2} pairs_per_s={Pairs / OneSiloSeconds:F1}";
        yield return $"cluster_2_silos seconds={TwoSiloSeconds:F2} pairs_per_s={Pairs / TwoSiloSeconds:F1}";
        yield return $"same_dataset={(SameDataset ? "true" : "false")}";
        yield return $"cluster_overhead={ClusterOverhead:F3}";
    }
}

/// <summary>
/// The same generated dumps (<see cref="ImageDumpGenerator"/>) through `ingest run`'s library (<see cref="IngestRun"/>),
/// then as a cluster job (extraction, frequency filter, shard phase, commits) on one silo and on two silos in this
/// process, over one storage started for the benchmark (<see cref="IClusterStorage"/>). Cluster start-up is not timed; job submission to completion is.
/// </summary>
public static class IngestClusterBenchmark
{
    public static async Task<IngestClusterBenchmarkResult> RunAsync(Func<CancellationToken, Task<IClusterStorage>> startStorage, string workDirectory,
        int files, int pagesPerFile, int pictures, int samplesPerShard, int rounds, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        if (Directory.Exists(workDirectory)) Directory.Delete(workDirectory, recursive: true);
        var inputs = ImageDumpGenerator.Write(Path.Combine(workDirectory, "inputs"), files, pagesPerFile, pictures, seed: 1);
        var settings = new IngestJobSettings { SamplesPerShard = samplesPerShard };
        await using var storage = await startStorage(cancellationToken);

        var measured = new List<IngestClusterRound>();
        IngestRunSummary? summary = null;
        var same = true;
        for (var round = 1; round <= rounds; round++)
        {
            var single = Path.Combine(workDirectory, $"single-{round}");
            var clock = Stopwatch.StartNew();
            summary = await IngestRun.RunAsync(inputs, new LocalDatasetFolder(single),
                IngestJobOptions.Run(settings) with { WorkDirectory = Path.Combine(workDirectory, $"work-{round}") }, cancellationToken: cancellationToken);
            var singleSeconds = clock.Elapsed.TotalSeconds;
            var one = await RunJobAsync(storage, silos: 1, inputs, Path.Combine(workDirectory, $"one-silo-{round}"), settings, cancellationToken);
            var two = await RunJobAsync(storage, silos: 2, inputs, Path.Combine(workDirectory, $"two-silos-{round}"), settings, cancellationToken);
            same &= SameShards(single, Path.Combine(workDirectory, $"one-silo-{round}", IngestJobLayout.DatasetFolder))
                    && SameShards(single, Path.Combine(workDirectory, $"two-silos-{round}", IngestJobLayout.DatasetFolder));
            measured.Add(new IngestClusterRound(singleSeconds, one.TotalSeconds, two.TotalSeconds));
        }
        return new IngestClusterBenchmarkResult(files, summary!.Pages, summary.PairsAccepted, summary.Shards.Totals.Successes, measured, same);
    }

    private static async Task<TimeSpan> RunJobAsync(IClusterStorage storage, int silos, string[] inputs, string output, IngestJobSettings settings,
        CancellationToken cancellationToken)
    {
        await using var cluster = await InProcessCluster.StartAsync(storage, silos, "bench-", configure: null, cancellationToken);
        var jobId = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var job = cluster.Grains.GetGrain<IIngestJobGrain>(jobId);
        var clock = Stopwatch.StartNew();
        var status = await job.Submit(new IngestJobRequest(inputs, output, settings, jobId));
        while (!status.IsOver)
        {
            await Task.Delay(20, cancellationToken);
            status = await job.GetStatus();
        }
        var elapsed = clock.Elapsed;
        if (status.Phase != IngestJobPhase.Completed) throw new InvalidOperationException($"The benchmark job on {silos} silo(s) failed: {status.Error}");
        return elapsed;
    }

    private static bool SameShards(string expected, string actual)
    {
        static string[] Tars(string folder) => [.. Directory.GetFiles(folder, "*.tar").Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        return Tars(expected).SequenceEqual(Tars(actual))
               && Tars(expected).All(name => File.ReadAllBytes(Path.Combine(expected, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, name))));
    }
}
