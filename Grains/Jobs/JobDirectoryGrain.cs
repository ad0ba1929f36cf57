using Microsoft.Extensions.Logging;

namespace Platform.Grains.Jobs;

[GenerateSerializer]
public sealed class JobDirectoryState
{
    /// <summary>Oldest first, at most <see cref="IJobDirectoryGrain.Capacity"/> per kind.</summary>
    [Id(0)] public List<JobEntry> Jobs { get; set; } = [];
}

/// <summary>A bounded, durable list of job ids; small enough for table grain state (500 ids of each kind).</summary>
public sealed class JobDirectoryGrain(
    [PersistentState("jobdirectory", PlatformStorage.GrainStateProvider)] IPersistentState<JobDirectoryState> state) : Grain, IJobDirectoryGrain
{
    public async Task Record(JobKind kind, string jobId)
    {
        var jobs = state.State.Jobs;
        if (jobs.Any(j => j.Kind == kind && j.JobId == jobId)) return;
        jobs.Add(new JobEntry(kind, jobId, DateTimeOffset.UtcNow));
        var ofKind = jobs.Count(j => j.Kind == kind);
        if (ofKind > IJobDirectoryGrain.Capacity) jobs.Remove(jobs.First(j => j.Kind == kind));
        await state.WriteStateAsync();
    }

    public Task<IReadOnlyList<JobEntry>> Recent(JobKind kind, int take) =>
        Task.FromResult<IReadOnlyList<JobEntry>>([.. state.State.Jobs.Where(j => j.Kind == kind).Reverse().Take(Math.Max(0, take))]);
}

/// <summary>How a job grain lists itself when first submitted.</summary>
public static class JobDirectory
{
    /// <summary>
    /// Records the job in the cluster's <see cref="IJobDirectoryGrain"/>. A failure costs only the job's line on the overview,
    /// never the submission, so it is logged rather than thrown.
    /// </summary>
    public static async Task RecordAsync(IGrainFactory grains, JobKind kind, string jobId, ILogger logger)
    {
        try
        {
            await grains.GetGrain<IJobDirectoryGrain>(IJobDirectoryGrain.Key).Record(kind, jobId);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            logger.LogWarning(error, "Could not list {Kind} job {Job} in the job directory", kind, jobId);
        }
    }
}
