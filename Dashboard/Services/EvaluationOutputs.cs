using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Platform.Grains.Evaluation;
using Platform.Model.Evaluation.Datasets;

namespace Platform.Dashboard.Services;

/// <summary>
/// One scored item of an evaluation as its output file holds it: a caption the model wrote for an image, its answer to a
/// question about one, or (SNLI-VE, NLVR2) the label it predicted for a hypothesis or statement about one or two images.
/// <see cref="ImageFile"/> is the image's file name in the task data (null when the data does not name it).
/// </summary>
public sealed record EvaluationItem(long ImageId, string? ImageFile, string? Question, string Output)
{
    /// <summary>Every image the item shows: NLVR2's two, else the one of <see cref="ImageFile"/>.</summary>
    public IReadOnlyList<string> ImageFiles { get; init; } = ImageFile is null ? [] : [ImageFile];

    /// <summary>A labelled example's id (SNLI-VE, NLVR2); null for captions and answers, which have image ids.</summary>
    public string? ExampleId { get; init; }

    /// <summary>A labelled example's gold label, beside the predicted one in <see cref="Output"/>.</summary>
    public string? Label { get; init; }
}

/// <summary>An evaluation's per-item outputs, read from the blob the evaluation wrote, with how many the file holds.</summary>
public sealed record EvaluationItems(IReadOnlyList<EvaluationItem> Items, int Total, string? Problem);

/// <summary>
/// What an evaluation wrote, for its page: the per-item outputs (`captions.json`, `answers.json`, `predictions.json`) read from the evaluation's
/// blobs, the files themselves for download, and the task data's images the items refer to. Only what the evaluation's own
/// status names is served: its listed blobs, and images that its outputs name under its data root.
/// </summary>
public static class EvaluationOutputs
{
    public const string PathPrefix = "/evaluations";
    private const string CaptionsFile = "captions.json";
    private const string AnswersFile = "answers.json";
    private const string PredictionsFile = "predictions.json";

    /// <summary>The evaluation's page; the grain key's two parts, the task name and the checkpoint as the leaderboard records it.</summary>
    public static string PageLink(string task, string checkpoint) =>
        $"{PathPrefix}/{Uri.EscapeDataString(task)}?checkpoint={Uri.EscapeDataString(checkpoint)}";

    /// <summary>A checkpoint folder as evaluation keys name it: a blob URL without its last slash, a local folder's full path without its last separator.</summary>
    public static string CheckpointId(string folder) =>
        Platform.Datasets.DatasetTarget.IsBlobUrl(folder)
            ? folder.TrimEnd('/')
            : Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));

    public static string FileLink(string task, string checkpoint, string blob) =>
        $"{PathPrefix}/{Uri.EscapeDataString(task)}/output?checkpoint={Uri.EscapeDataString(checkpoint)}&name={Uri.EscapeDataString(blob)}";

    public static string ImageLink(string task, string checkpoint, string file) =>
        $"{PathPrefix}/{Uri.EscapeDataString(task)}/image?checkpoint={Uri.EscapeDataString(checkpoint)}&file={Uri.EscapeDataString(file)}";

    public static IEvaluationGrain Grain(IGrainFactory grains, string task, string checkpoint) =>
        grains.GetGrain<IEvaluationGrain>($"{task}|{checkpoint}");

    /// <summary>The items of the evaluation's captions, answers or predictions file, the first <paramref name="limit"/> of them.</summary>
    public static async Task<EvaluationItems> ReadItemsAsync(BlobServiceClient blobs, EvaluationStatus status, int limit, CancellationToken cancellationToken)
    {
        var blob = status.OutputBlobs.FirstOrDefault(b => IsItemsFile(b));
        if (blob is null) return new EvaluationItems([], 0, null);
        try
        {
            var content = await blobs.GetBlobContainerClient(status.OutputContainer).GetBlobClient(blob).DownloadContentAsync(cancellationToken);
            using var json = JsonDocument.Parse(content.Value.Content.ToMemory());
            var all = json.RootElement.EnumerateArray().ToList();
            IReadOnlyDictionary<long, string> filesById = blob.EndsWith(AnswersFile, StringComparison.Ordinal) && status.DataRoot is { } root
                ? ImageFilesById(root, status.Split ?? "test")
                : new Dictionary<long, string>();
            var items = all.Take(limit).Select(item =>
            {
                if (blob.EndsWith(PredictionsFile, StringComparison.Ordinal)) return Prediction(item);
                long imageId = item.TryGetProperty("image_id", out var id) && id.TryGetInt64(out var value) ? value : -1;
                string? file = Text(item, "file_name") ?? filesById.GetValueOrDefault(imageId);
                return new EvaluationItem(imageId, file, Text(item, "question"), Text(item, "caption") ?? Text(item, "answer") ?? "");
            }).ToList();
            return new EvaluationItems(items, all.Count, null);
        }
        catch (Exception e) when (e is RequestFailedException or JsonException or InvalidOperationException or IOException)
        {
            return new EvaluationItems([], 0, $"The evaluation's {Path.GetFileName(blob)} could not be read: {e.Message}");
        }
    }

    /// <summary>An SNLI-VE or NLVR2 prediction: {"id", "prediction", "label", "text", "images"}.</summary>
    private static EvaluationItem Prediction(JsonElement item)
    {
        var images = item.TryGetProperty("images", out var named) && named.ValueKind == JsonValueKind.Array
            ? named.EnumerateArray().Where(i => i.ValueKind == JsonValueKind.String).Select(i => i.GetString()!).ToArray()
            : [];
        return new EvaluationItem(-1, images.FirstOrDefault(), Text(item, "text"), Text(item, "prediction") ?? "")
        {
            ImageFiles = images,
            ExampleId = Text(item, "id"),
            Label = Text(item, "label"),
        };
    }

    /// <summary>`GET /evaluations/{task}/output?checkpoint=&name=`: one of the blobs the evaluation's status lists.</summary>
    public static async Task<IResult> ServeFileAsync(string task, string checkpoint, string name, [FromServices] IGrainFactory grains, [FromServices] BlobServiceClient blobs, CancellationToken cancellationToken)
    {
        var status = await Grain(grains, task, checkpoint).GetStatus();
        if (!status.OutputBlobs.Contains(name, StringComparer.Ordinal)) return Results.NotFound();
        var content = await blobs.GetBlobContainerClient(status.OutputContainer).GetBlobClient(name).DownloadContentAsync(cancellationToken);
        return Results.File(content.Value.Content.ToArray(), "application/json", Path.GetFileName(name));
    }

    /// <summary>
    /// `GET /evaluations/{task}/image?checkpoint=&file=`: an image of the task data that the evaluation's outputs name, from
    /// the folders the evaluation reads images from under its data root (`images/{split}/`, NLVR2's and Flickr30k's) or the
    /// root itself (where Karpathy files name them), never outside the root.
    /// </summary>
    public static async Task<IResult> ServeImageAsync(string task, string checkpoint, string file, [FromServices] IGrainFactory grains, [FromServices] BlobServiceClient blobs, CancellationToken cancellationToken)
    {
        var status = await Grain(grains, task, checkpoint).GetStatus();
        if (status.DataRoot is not { } root) return Results.NotFound();
        var named = await ImageFilesNamedAsync(blobs, status, cancellationToken);
        if (!named.Contains(file)) return Results.NotFound();
        var path = ImagePath(root, status.Split ?? "test", file);
        if (path is null) return Results.NotFound();
        return Results.File(path, ContentType(path));
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlySet<string>> FilesNamedByFinishedEvaluation = new(StringComparer.Ordinal);
    private const int FinishedEvaluationsRemembered = 64;

    /// <summary>
    /// The image files the evaluation's outputs name. A finished evaluation's outputs never change until it runs again (which
    /// moves its finish time), so its set is kept: the page asks for dozens of images, and each would read the outputs again.
    /// </summary>
    private static async Task<IReadOnlySet<string>> ImageFilesNamedAsync(BlobServiceClient blobs, EvaluationStatus status, CancellationToken cancellationToken)
    {
        string? key = status.Phase == EvaluationPhase.Completed && status.FinishedAt is { } finished
            ? $"{blobs.Uri}|{status.OutputContainer}|{string.Join('|', status.OutputBlobs)}|{finished.UtcTicks}"
            : null;
        if (key is not null && FilesNamedByFinishedEvaluation.TryGetValue(key, out var known)) return known;
        var items = await ReadItemsAsync(blobs, status, int.MaxValue, cancellationToken);
        var named = items.Items.SelectMany(i => i.ImageFiles).ToHashSet(StringComparer.Ordinal);
        if (key is not null && items.Problem is null)
        {
            if (FilesNamedByFinishedEvaluation.Count >= FinishedEvaluationsRemembered) FilesNamedByFinishedEvaluation.Clear();
            FilesNamedByFinishedEvaluation[key] = named;
        }
        return named;
    }

    /// <summary>The image's path inside the data root, or null when it is not there or would lie outside it.</summary>
    public static string? ImagePath(string dataRoot, string split, string file)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataRoot));
        var folders = EvaluationDataLayout.Nlvr2ImageFolderCandidates(root, split).Concat(EvaluationDataLayout.Flickr30kImageFolderCandidates(root, split)).Append(root).Distinct();
        foreach (var candidate in folders.Select(folder => Path.Combine(folder, file)))
        {
            var full = Path.GetFullPath(candidate);
            if (full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && File.Exists(full)) return full;
        }
        return null;
    }

    private static bool IsItemsFile(string blob) =>
        new[] { CaptionsFile, AnswersFile, PredictionsFile }.Any(file => blob.EndsWith("/" + file, StringComparison.Ordinal));

    /// <summary>VQA answers name only the image id; the split's COCO captions file maps ids to file names.</summary>
    private static Dictionary<long, string> ImageFilesById(string dataRoot, string split)
    {
        var files = new Dictionary<long, string>();
        var captions = Path.Combine(dataRoot, "annotations", $"captions_{split}.json");
        if (!File.Exists(captions)) return files;
        using var stream = File.OpenRead(captions);
        using var json = JsonDocument.Parse(stream);
        if (!json.RootElement.TryGetProperty("images", out var images)) return files;
        foreach (var image in images.EnumerateArray())
            if (image.TryGetProperty("id", out var id) && id.TryGetInt64(out var value) && Text(image, "file_name") is { } name)
                files[value] = name;
        return files;
    }

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string ContentType(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => "image/png",
        ".webp" => "image/webp",
        ".gif" => "image/gif",
        _ => "image/jpeg",
    };
}
