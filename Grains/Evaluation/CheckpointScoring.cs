using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Checkpoints;
using Platform.Model.Training;

namespace Platform.Grains.Evaluation;

/// <summary>
/// The work of one evaluation, wherever it runs (the evaluation grain on a silo's CPU, or the worker on a lent device):
/// score the checkpoint with <see cref="CheckpointEvaluator"/> on a dedicated thread, off the grain scheduler, and upload
/// the per-item outputs and scores.json under "{task}/{checkpoint hash}/" of <see cref="EvaluationGrain.OutputContainer"/>.
/// </summary>
internal static class CheckpointScoring
{
    /// <summary>The evaluator's options for <paramref name="request"/> on a libtorch device (`cpu`, `cuda:N`); throws when they are invalid.</summary>
    public static CheckpointEvaluationOptions Options(EvaluationRequest request, string device) => new CheckpointEvaluationOptions
    {
        Split = request.Split,
        Prompt = request.Prompt,
        BeamSize = request.BeamSize,
        MaxImages = request.MaxImages,
        Device = device,
        // A lent device fine-tunes there too; on a silo's CPU, fine-tuning keeps the evaluator's own choice.
        FineTune = request.FineTuneSteps is int steps
            ? new FineTuneOptions { Steps = steps, LearningRate = request.FineTuneLearningRate, Device = request.Loan is null ? new FineTuneOptions().Device : device }
            : null,
    }.Validate();

    public static async Task<EvaluationOutcome> RunAsync(string evaluationKey, EvaluationRequest request, DeviceAddress ranOn, BlobServiceClient blobs,
        ILogger logger, CancellationToken cancellationToken)
    {
        var (task, checkpoint) = EvaluationKey.Parse(evaluationKey);
        var options = Options(request, TrainingSpecMapping.LibTorchDevice(ranOn));
        string outputs = Directory.CreateTempSubdirectory("evaluation-").FullName;
        try
        {
            // The evaluator reads folders: a checkpoint in a blob container is scored from a local copy, deleted with the outputs.
            string folder = BlobCheckpointStore.IsBlobLocation(checkpoint)
                ? await BlobCheckpointStore.DownloadFolderAsync(checkpoint, blobs, Path.Combine(outputs, "checkpoint"), cancellationToken)
                : checkpoint;
            // A dedicated thread: TorchSharp work must not run on (or block) the grain scheduler.
            var evaluation = await Task.Factory.StartNew(
                () => CheckpointEvaluator.Run(folder, task, request.DataRoot, options, message => logger.LogInformation("{Key}: {Message}", evaluationKey, message), cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var files = EvaluationOutputFiles.Write(outputs, evaluation);
            var blobNames = await UploadAsync(blobs, task, checkpoint, files);
            return new EvaluationOutcome(evaluation.Step, evaluation.Scores.Scores.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal), blobNames, ranOn);
        }
        finally
        {
            Directory.Delete(outputs, recursive: true);
        }
    }

    /// <summary>Uploads the output files under "{task}/{checkpoint hash}/" (paths make poor blob names) and returns the blob names.</summary>
    private static async Task<List<string>> UploadAsync(BlobServiceClient blobs, EvaluationTask task, string checkpoint, IReadOnlyList<string> files)
    {
        var container = blobs.GetBlobContainerClient(EvaluationGrain.OutputContainer);
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
}
