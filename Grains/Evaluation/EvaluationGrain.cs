using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model.Evaluation;

namespace Platform.Grains.Evaluation;

[GenerateSerializer]
public sealed class EvaluationState
{
    [Id(0)] public EvaluationPhase Phase { get; set; }
    [Id(1)] public Dictionary<string, double> Scores { get; set; } = new(StringComparer.Ordinal);
    [Id(2)] public List<string> OutputBlobs { get; set; } = [];
    [Id(3)] public string? Error { get; set; }
    [Id(4)] public DateTimeOffset? StartedAt { get; set; }
    [Id(5)] public DateTimeOffset? FinishedAt { get; set; }
    /// <summary>How many times the evaluation was started; a repeated request for a finished one does not count.</summary>
    [Id(6)] public int Runs { get; set; }
    [Id(7)] public long Step { get; set; }
    [Id(8)] public string? RunId { get; set; }
    /// <summary>The lent device, or this silo's CPU (device `cpu`), that the evaluation runs or ran on.</summary>
    [Id(9)] public DeviceAddress? RanOn { get; set; }
    /// <summary>The task data the evaluation scored against, so its outputs can be shown beside their images.</summary>
    [Id(10)] public string? DataRoot { get; set; }
    [Id(11)] public string? Split { get; set; }
}

/// <summary>
/// Runs <see cref="CheckpointEvaluator"/> off the grain's scheduler, so the grain keeps answering status calls: on this
/// silo's CPU, or, when the request carries a device loan, through an <see cref="IEvaluationWorkerGrain"/> on that
/// device's silo. Scores go to grain state, per-item outputs and scores.json to blob storage (container
/// <see cref="OutputContainer"/>), and the result to the task's <see cref="ILeaderboardGrain"/>.
/// </summary>
public sealed class EvaluationGrain(
    [PersistentState("evaluation", PlatformStorage.GrainStateProvider)] IPersistentState<EvaluationState> state,
    BlobServiceClient blobs,
    ILocalSiloDetails silo,
    ILogger<EvaluationGrain> logger) : Grain, IEvaluationGrain
{
    public const string OutputContainer = "evaluations";

    /// <summary>Keeps the activation alive while a run goes on without incoming calls.</summary>
    private static readonly TimeSpan LongestRun = TimeSpan.FromDays(2);

    private readonly CancellationTokenSource _deactivating = new();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        EvaluationKey.Parse(this.GetPrimaryKeyString());
        if (state.State.Phase == EvaluationPhase.Running)
        {
            // The activation that ran it is gone (its silo stopped): the run is lost, a new Start reruns it.
            state.State.Phase = EvaluationPhase.Failed;
            state.State.Error = "interrupted: the silo running the evaluation stopped; start it again to rerun";
            state.State.FinishedAt = DateTimeOffset.UtcNow;
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating.Cancel();
        return Task.CompletedTask;
    }

    public async Task<EvaluationStatus> Start(EvaluationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.DataRoot);
        if (state.State.Phase is EvaluationPhase.Running or EvaluationPhase.Completed) return Status();

        var checkpoint = EvaluationKey.Parse(this.GetPrimaryKeyString()).Checkpoint;
        // Bad options are the caller's to hear about, before anything runs.
        CheckpointScoring.Options(request, "cpu");
        state.State = new EvaluationState
        {
            Phase = EvaluationPhase.Running,
            StartedAt = DateTimeOffset.UtcNow,
            Runs = state.State.Runs + 1,
            RunId = request.RunId ?? RunFolderName(checkpoint),
            RanOn = request.Loan?.Device ?? new DeviceAddress(silo.SiloAddress.ToParsableString(), RunEvaluation.OnCpu),
            DataRoot = request.DataRoot,
            Split = request.Split,
        };
        await state.WriteStateAsync();
        DelayDeactivation(LongestRun);
        _ = RunAsync(request);
        return Status();
    }

    public Task<EvaluationStatus> GetStatus() => Task.FromResult(Status());

    /// <summary>On this silo's CPU, or through the worker on the lent device's silo; the result is kept here and put on the task's leaderboard.</summary>
    private async Task RunAsync(EvaluationRequest request)
    {
        string key = this.GetPrimaryKeyString();
        try
        {
            var outcome = request.Loan is { } loan
                ? await GrainFactory.GetGrain<IEvaluationWorkerGrain>(DevicePlacedKey.Format(loan.Device, key)).Evaluate(request)
                : await CheckpointScoring.RunAsync(key, request, state.State.RanOn!, blobs, logger, _deactivating.Token);

            state.State.Phase = EvaluationPhase.Completed;
            state.State.Scores = outcome.Scores.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            state.State.OutputBlobs = [.. outcome.OutputBlobs];
            state.State.Step = outcome.Step;
            state.State.RanOn = outcome.RanOn;
            state.State.FinishedAt = DateTimeOffset.UtcNow;
            state.State.Error = null;
            await state.WriteStateAsync();

            var (task, checkpoint) = EvaluationKey.Parse(key);
            string primary = EvaluationKey.PrimaryMetric(task);
            await GrainFactory.GetGrain<ILeaderboardGrain>(ResultsScoring.TaskName(task)).Record(new LeaderboardEntry(
                checkpoint, state.State.RunId!, outcome.Step, primary, state.State.Scores[primary], state.State.Scores, state.State.FinishedAt.Value));
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Evaluation {Key} failed", key);
            state.State.Phase = EvaluationPhase.Failed;
            state.State.Error = e.Message;
            state.State.FinishedAt = DateTimeOffset.UtcNow;
            await state.WriteStateAsync();
            // The worker returns its loan itself; one that never started (its silo gone, say) cannot.
            if (request.Loan is { } loan) await ReturnQuietlyAsync(loan);
        }
    }

    private async Task ReturnQuietlyAsync(DeviceLoan loan)
    {
        try
        {
            await GrainFactory.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key).ReturnDevice(loan.Borrower);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Evaluation {Key} could not return {Device}; its loan expires unrenewed", this.GetPrimaryKeyString(), loan.Device);
        }
    }

    private static string RunFolderName(string checkpoint)
    {
        // A checkpoint folder sits in its run's folder (run/step-00000100); a run folder names itself.
        bool isStepFolder = Path.GetFileName(checkpoint).StartsWith("step-", StringComparison.Ordinal);
        return Path.GetFileName(isStepFolder ? Path.GetDirectoryName(checkpoint) ?? checkpoint : checkpoint);
    }

    private EvaluationStatus Status()
    {
        var s = state.State;
        var task = EvaluationKey.Parse(this.GetPrimaryKeyString()).Task;
        string primary = EvaluationKey.PrimaryMetric(task);
        return new EvaluationStatus(
            s.Phase, new Dictionary<string, double>(s.Scores), s.Phase == EvaluationPhase.Completed ? primary : null,
            s.Scores.TryGetValue(primary, out double score) ? score : null,
            OutputContainer, s.OutputBlobs.ToArray(), s.Error, s.StartedAt, s.FinishedAt, s.Runs, s.Step, s.RunId, s.RanOn, s.DataRoot, s.Split);
    }
}
