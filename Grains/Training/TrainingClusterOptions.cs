using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Platform.Grains.Training;

/// <summary>
/// How the cluster trains: where runs checkpoint by default, how trainers' leases are kept, how much step history a run
/// keeps. The host binds it from the `Training` settings section; test clusters take the defaults.
/// </summary>
public sealed class TrainingClusterOptions
{
    /// <summary>
    /// Parent folder of the runs' checkpoint folders (<c>{CheckpointRoot}/{runId}</c>) when a run names none; every silo must
    /// reach it. A multi-trainer run checkpointing to a blob container exchanges its rounds in the container, not here.
    /// </summary>
    public string CheckpointRoot { get; set; } = "checkpoints";

    /// <summary>The folder under <see cref="CheckpointRoot"/> of a run that names no checkpoint location.</summary>
    public string RunFolder(string runId) => Path.GetFullPath(Path.Combine(CheckpointRoot, runId));

    /// <summary>
    /// The benchmark the default evaluations score on (the folder `platform benchmark-data` writes); generated there once,
    /// with the generator's defaults, when a run that names no evaluations is submitted and it holds none yet. Every silo must reach it.
    /// </summary>
    public string BenchmarkData { get; set; } = "benchmark";

    /// <summary>A trainer that has not sent a heartbeat for this long is presumed lost; its run resumes elsewhere. Also the lease of a device lent to an evaluation.</summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A trainer that heartbeats but whose step has not advanced for this long is presumed hung (zero: off).</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Failed or lost attempts after which a run fails instead of being requeued.</summary>
    public int MaxFailures { get; set; } = 5;

    /// <summary>How often the scheduler, while active, expires leases, reclaims devices of departed silos and places waiting runs.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Steps of the recent window that a run's history keeps every one of.</summary>
    public int HistoryRecentSteps { get; set; } = 500;

    /// <summary>Points at most that a run's history keeps before its recent window (downsampled evenly).</summary>
    public int HistoryOlderPoints { get; set; } = 500;
}

public static class TrainingServiceExtensions
{
    /// <summary>Training options with their defaults, adjusted by <paramref name="configure"/>.</summary>
    public static IServiceCollection AddPlatformTraining(this IServiceCollection services, Action<TrainingClusterOptions>? configure = null)
    {
        var options = services.AddOptions<TrainingClusterOptions>();
        if (configure is not null) options.Configure(configure);
        services.TryAddSingleton<ITrainerFaults, NoTrainerFaults>();
        return services;
    }
}
