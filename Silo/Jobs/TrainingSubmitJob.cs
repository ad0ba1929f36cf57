using Platform.Grains.Training;

namespace Platform.Silo.Jobs;

/// <summary>
/// Hangfire job that queues a training run checked by <c>POST /api/train/runs</c>. The scheduler takes a run id it
/// already knows as that run, unchanged, so a retry (or a second post) queues nothing twice.
/// </summary>
public sealed class TrainingSubmitJob(IGrainFactory grains, ILogger<TrainingSubmitJob> logger)
{
    public async Task<TrainingRunPhase> RunAsync(TrainingRunSpec spec)
    {
        // Hangfire's JSON may hand lists back as its own collection types; the grain call wants ones its serializer knows.
        spec = spec with { TextDocuments = spec.TextDocuments.ToArray(), Evaluations = spec.Evaluations?.ToArray() };
        var run = await grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key).Submit(spec);
        logger.LogInformation("Training run {Run}: {Phase}, submission {Order}, {Devices} device(s) asked", run.RunId, run.Phase, run.SubmissionOrder, run.DevicesRequested);
        return run.Phase;
    }
}
