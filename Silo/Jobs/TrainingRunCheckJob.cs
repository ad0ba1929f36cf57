using Hangfire;
using Platform.Grains.Training;

namespace Platform.Silo.Jobs;

/// <summary>
/// Hangfire recurring job that has the training scheduler expire lost or stalled trainers' leases and place waiting
/// runs. The scheduler does this on its own timer while it is active; this brings it back when its silo died and no one
/// else calls it. Not retried by Hangfire: the next minute is the retry.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class TrainingRunCheckJob(IGrainFactory grains)
{
    public const string RecurringJobId = "training-check-runs";

    public Task RunAsync() => grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key).CheckRuns();
}

/// <summary>Registers <see cref="TrainingRunCheckJob"/> to run every minute.</summary>
public sealed class TrainingRunCheckScheduler(IRecurringJobManager recurringJobs) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        recurringJobs.AddOrUpdate<TrainingRunCheckJob>(TrainingRunCheckJob.RecurringJobId, job => job.RunAsync(), Cron.Minutely(),
            new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
