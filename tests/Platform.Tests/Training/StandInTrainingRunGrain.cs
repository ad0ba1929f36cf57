using Platform.Grains.Training;

namespace Platform.Tests.Training;

/// <summary>
/// Stands in for the run record (built in another part of issue 13) until it is merged: keeps the newest started
/// attempt's reports in memory, truncating history to the step an attempt starts from, as the protocol says.
/// </summary>
public sealed class StandInTrainingRunGrain : Grain, ITrainingRunGrain
{
    private TrainingRunSpec? spec;
    private string location = "";
    private int attempt;
    private string? worker;
    private readonly List<TrainingStepRecord> history = [];
    private readonly List<RunCheckpoint> checkpoints = [];

    public Task Register(TrainingRunSpec runSpec, string checkpointLocation)
    {
        spec ??= runSpec;
        location = checkpointLocation;
        return Task.CompletedTask;
    }

    public Task<bool> AttemptStarted(int started, int fromStep, string by)
    {
        if (started < attempt) return Task.FromResult(false);
        attempt = started;
        worker = by;
        history.RemoveAll(s => s.Step > fromStep);
        return Task.FromResult(true);
    }

    public Task<bool> ReportSteps(int from, IReadOnlyList<TrainingStepRecord> steps)
    {
        if (from != attempt) return Task.FromResult(false);
        history.AddRange(steps);
        return Task.FromResult(true);
    }

    public Task<bool> ReportCheckpoint(int from, int step, string folder)
    {
        if (from != attempt) return Task.FromResult(false);
        if (checkpoints.All(c => c.Step != step)) checkpoints.Add(new RunCheckpoint(step, folder, DateTimeOffset.UtcNow, false));
        return Task.FromResult(true);
    }

    public async Task<TrainingRunStatus> GetStatus()
    {
        var run = await GrainFactory.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key).Get(this.GetPrimaryKeyString());
        return new TrainingRunStatus(run!, spec!, location, history.LastOrDefault(), [.. history], [.. checkpoints], [], null, worker);
    }
}
