using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Checkpoints;
using Platform.Model.Training;

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
}

/// <summary>
/// Runs <see cref="CheckpointEvaluator"/> on a dedicated thread, off the grain's scheduler, so the
/// grain keeps answering status calls; scores go to grain state, per-item outputs and scores.json
/// to blob storage (container <see cref="OutputContainer"/>), and the result to the task's
/// <see cref="ILeaderboardGrain"/>.
/// </summary>
public sealed class EvaluationGrain(
    [PersistentState("evaluation", PlatformStorage.GrainStateProvider)] IPersistentState<EvaluationState> state,
    BlobServiceClient blobs,
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

        var (task, checkpoint) = EvaluationKey.Parse(this.GetPrimaryKeyString());
        var options = new CheckpointEvaluationOptions
        {
            Split = request.Split,
            Prompt = request.Prompt,
            BeamSize = request.BeamSize,
            MaxImages = request.MaxImages,
            FineTune = request.FineTuneSteps is int steps ? new FineTuneOptions { Steps = steps, LearningRate = request.FineTuneLearningRate } : null,
        }.Validate();
        state.State = new EvaluationState
        {
            Phase = EvaluationPhase.Running,
            StartedAt = DateTimeOffset.UtcNow,
            Runs = state.State.Runs + 1,
            RunId = request.RunId ?? RunFolderName(checkpoint),
        };
        await state.WriteStateAsync();
        DelayDeactivation(LongestRun);
        _ = RunAsync(task, checkpoint, request.DataRoot, options);
        return Status();
    }

    public Task<EvaluationStatus> GetStatus() => Task.FromResult(Status());

    private async Task RunAsync(EvaluationTask task, string checkpoint, string dataRoot, CheckpointEvaluationOptions options)
    {
        string outputs = Directory.CreateTempSubdirectory("evaluation-").FullName;
        try
        {
            var token = _deactivating.Token;
            // The evaluator reads folders: a checkpoint in a blob container is scored from a local copy, deleted with the outputs.
            string folder = BlobCheckpointStore.IsBlobLocation(checkpoint)
                ? await BlobCheckpointStore.DownloadFolderAsync(checkpoint, blobs, Path.Combine(outputs, "checkpoint"), token)
                : checkpoint;
            // A dedicated thread: TorchSharp work must not run on (or block) the grain scheduler.
            var evaluation = await Task.Factory.StartNew(
                () => CheckpointEvaluator.Run(folder, task, dataRoot, options, message => logger.LogInformation("{Key}: {Message}", this.GetPrimaryKeyString(), message), token),
                token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var files = EvaluationOutputFiles.Write(outputs, evaluation);
            var blobNames = await UploadAsync(task, checkpoint, files);

            state.State.Phase = EvaluationPhase.Completed;
            state.State.Scores = evaluation.Scores.Scores.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            state.State.OutputBlobs = blobNames;
            state.State.Step = evaluation.Step;
            state.State.FinishedAt = DateTimeOffset.UtcNow;
            state.State.Error = null;
            await state.WriteStateAsync();

            string primary = EvaluationKey.PrimaryMetric(task);
            await GrainFactory.GetGrain<ILeaderboardGrain>(ResultsScoring.TaskName(task)).Record(new LeaderboardEntry(
                checkpoint, state.State.RunId!, evaluation.Step, primary, state.State.Scores[primary], state.State.Scores, state.State.FinishedAt.Value));
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Evaluation {Key} failed", this.GetPrimaryKeyString());
            state.State.Phase = EvaluationPhase.Failed;
            state.State.Error = e.Message;
            state.State.FinishedAt = DateTimeOffset.UtcNow;
            await state.WriteStateAsync();
        }
        finally
        {
            Directory.Delete(outputs, recursive: true);
        }
    }

    /// <summary>Uploads the output files under "{task}/{checkpoint hash}/" (paths make poor blob names) and returns the blob names.</summary>
    private async Task<List<string>> UploadAsync(EvaluationTask task, string checkpoint, IReadOnlyList<string> files)
    {
        var container = blobs.GetBlobContainerClient(OutputContainer);
        try
        {
            await container.CreateIfNotExistsAsync();
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            // Created by another grain at the same moment.
        }
        string prefix = $"{ResultsScoring.TaskName(task)}/{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(checkpoint)))[..16]}";
        var names = new List<string>();
        foreach (var file in files)
        {
            string name = $"{prefix}/{Path.GetFileName(file)}";
            await container.GetBlobClient(name).UploadAsync(file, overwrite: true);
            names.Add(name);
        }
        return names;
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
            OutputContainer, s.OutputBlobs.ToArray(), s.Error, s.StartedAt, s.FinishedAt, s.Runs, s.Step, s.RunId);
    }
}
