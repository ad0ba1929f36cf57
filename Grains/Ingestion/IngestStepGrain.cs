using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;
using Platform.Datasets;
using Platform.Grains.Work;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Units;

namespace Platform.Grains.Ingestion;

/// <summary>
/// One job-wide step attempt, placed at random and limited per silo by <see cref="IngestWorkerSlots"/>, as <see cref="IngestUnitGrain"/>:
/// a step whose silo dies loses its lease and is redone elsewhere, from its inputs, under a fresh attempt (and claim scope).
/// </summary>
[RandomPlacement]
public sealed class IngestStepGrain(IngestWorkerSlots slots, IngestStorage storage, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger<IngestStepGrain> logger)
    : LeasedWorkerGrain<StepAssignment>(slots, silo, lifetime, logger), IIngestStepGrain
{
    protected override Task RunAsync(IGrainFactory grains, StepAssignment a) =>
        RunLeasedAsync(
            new LeasedWork(grains.GetGrain<IIngestJobGrain>(a.JobId), new WorkItemId(WorkKind.Step, (int)a.Step), a.Attempt, a.Request.Settings.LeaseTimeout,
                $"Step {a.Step} attempt {a.Attempt} of job {a.JobId}"),
            stop => a.Step switch
            {
                IngestStep.Plan => PlanAsync(a, stop),
                IngestStep.Finish => FinishAsync(grains, a, stop),
                IngestStep.Dedupe => DedupeAsync(grains, a, stop),
                _ => WriteFunnelAsync(a, stop),
            },
            null);

    /// <summary>
    /// The work units, in input order and, within an input, in file order, so that reading them in unit order reads what one run over the
    /// inputs reads in the same order (the job's dedupe and text rules depend on it). An input that cannot be planned (unreadable,
    /// missing) is one unit, whose worker then reports the error as it always did.
    /// </summary>
    private async Task<WorkReport> PlanAsync(StepAssignment a, CancellationToken cancellationToken)
    {
        var settings = a.Request.Settings;
        var units = new List<InputUnit>();
        foreach (var input in a.Inputs)
        {
            try
            {
                await using var file = await storage.Inputs.OpenSeekableAsync(input, cancellationToken);
                units.AddRange(await InputSplitter.PlanAsync(input, file, settings.UnitBytes, IngestJobOptions.Extraction(settings).Warc));
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException or NotSupportedException or Azure.RequestFailedException)
            {
                Logger.LogWarning(error, "Could not plan the work units of {Input}; it is read as one unit", SecretRedaction.RedactUrl(input));
                units.Add(new InputUnit(input));
            }
        }
        return new PlanReport([.. units.Select(u => new PlannedUnit(u.Input, u.Start, u.End))]);
    }

    private async Task<WorkReport> FinishAsync(IGrainFactory grains, StepAssignment a, CancellationToken cancellationToken)
    {
        var layout = new IngestJobLayout(a.Request.OutputDirectory);
        var finish = new FinishRequest(layout, a.Attempt, [.. a.Directories.Select(d => new UnitFolder(d))], IngestJobOptions.Extraction(a.Request.Settings),
            a.ImageOffsetShifts);
        var (kept, first) = await ClusterIngestStages.FinishAsync(grains, storage, a.JobId, a.Request, finish, cancellationToken);
        return new FinishReport(kept, first);
    }

    private static async Task<WorkReport> DedupeAsync(IGrainFactory grains, StepAssignment a, CancellationToken cancellationToken)
    {
        await ClusterIngestStages.DecideDedupeAsync(grains, a.JobId, new IngestJobLayout(a.Request.OutputDirectory), a.Attempt, a.Directories,
            a.Request.Settings, cancellationToken);
        return new StepDoneReport();
    }

    private async Task<WorkReport> WriteFunnelAsync(StepAssignment a, CancellationToken cancellationToken)
    {
        var store = await storage.OpenDatasetAsync(a.Request.EffectiveDatasetLocation, cancellationToken);
        await FunnelStage.WriteFunnelAsync(store, new IngestJobLayout(a.Request.OutputDirectory), a.JobId, a.FirstShardNumber, a.ShardCount, cancellationToken);
        return new StepDoneReport();
    }
}
