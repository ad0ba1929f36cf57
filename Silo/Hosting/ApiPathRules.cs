using Platform.Grains.Ingestion;
using Platform.Grains.Training;
using Platform.Model.Training;
using Platform.Ingestion.Runs;
using Platform.Datasets;

namespace Platform.Silo.Hosting;

/// <summary>
/// Where local paths posted to the HTTP API may point: under the configured roots (<see cref="WebSettings.ApiRoots"/>),
/// judged after following symbolic links, and inputs must be non-empty files. A request from a browser or another
/// program must not make the platform read `/dev/zero` or a FIFO, nor write into `/etc`.
/// </summary>
public static class ApiPathRules
{
    public static IReadOnlyList<IngestSubmissionProblem> Check(IngestJobRequest request, IReadOnlyList<string> roots)
    {
        var problems = new List<IngestSubmissionProblem>();
        var allowed = string.Join(", ", roots);
        foreach (var input in request.Inputs.Where(i => !DumpInputs.IsBlobUrl(i) && Path.IsPathFullyQualified(i) && File.Exists(i)))
        {
            if (!IsUnder(Resolved(input), roots))
                problems.Add(new("inputs", $"'{input}' is outside the folders the API reads from ({allowed}; setting Web:ApiRoots)."));
            else if (new FileInfo(Resolved(input)).Length == 0)
                problems.Add(new("inputs", $"'{input}' is empty or not a regular file."));
        }
        if (Path.IsPathFullyQualified(request.OutputDirectory) && !IsUnder(Resolved(request.OutputDirectory), roots))
            problems.Add(new("output", $"'{request.OutputDirectory}' is outside the folders the API writes to ({allowed}; setting Web:ApiRoots)."));
        if (request.DatasetLocation is { } location && !DatasetTarget.IsBlobUrl(location) && Path.IsPathFullyQualified(location)
            && !IsUnder(Resolved(location), roots))
            problems.Add(new("datasetLocation", $"'{location}' is outside the folders the API writes to ({allowed}; setting Web:ApiRoots)."));
        return problems;
    }

    /// <summary>
    /// A training run's local paths: the text documents and a SentencePiece tokenizer it reads (non-empty files), the
    /// evaluations' data folders it reads, and the checkpoint folder it writes. Blob URLs are the storage account's business.
    /// </summary>
    public static IReadOnlyList<TrainingSubmissionProblem> Check(TrainingRunSpec spec, IReadOnlyList<string> roots)
    {
        var problems = new List<TrainingSubmissionProblem>();
        var allowed = string.Join(", ", roots);
        void Reads(string field, string path, bool file)
        {
            if (!Path.IsPathFullyQualified(path)) return;
            var resolved = Resolved(path);
            if (!IsUnder(resolved, roots))
                problems.Add(new(field, $"'{path}' is outside the folders the API reads from ({allowed}; setting Web:ApiRoots)."));
            else if (file && File.Exists(resolved) && new FileInfo(resolved).Length == 0)
                problems.Add(new(field, $"'{path}' is empty or not a regular file."));
        }
        foreach (var document in spec.TextDocuments) Reads("textDocuments", document, file: true);
        if (spec.Tokenizer.StartsWith(SentencePiecePrefix, StringComparison.Ordinal)) Reads("tokenizer", spec.Tokenizer[SentencePiecePrefix.Length..], file: true);
        foreach (var evaluation in spec.Evaluations ?? []) Reads("evaluations", evaluation.DataRoot, file: false);
        if (spec.CheckpointLocation is { } location && !BlobCheckpointStore.IsBlobLocation(location) && Path.IsPathFullyQualified(location)
            && !IsUnder(Resolved(location), roots))
            problems.Add(new("checkpointLocation", $"'{location}' is outside the folders the API writes to ({allowed}; setting Web:ApiRoots)."));
        return problems;
    }

    private const string SentencePiecePrefix = Platform.Model.TextTokenizer.SentencePiece + ":";

    /// <summary>
    /// The path with every symbolic link on it followed: the deepest part that exists is resolved, the rest appended,
    /// so a link under a root that points elsewhere is judged by where it points.
    /// </summary>
    public static string Resolved(string path)
    {
        var full = Path.GetFullPath(path);
        var rest = new Stack<string>();
        var current = full;
        while (!File.Exists(current) && !Directory.Exists(current))
        {
            var parent = Path.GetDirectoryName(current);
            if (parent is null) return full;
            rest.Push(Path.GetFileName(current));
            current = parent;
        }
        var resolved = ResolveAll(current);
        return rest.Aggregate(resolved, Path.Combine);
    }

    private static string ResolveAll(string existing)
    {
        var parent = Path.GetDirectoryName(existing);
        var resolvedParent = parent is null ? existing : Path.Combine(ResolveAll(parent), Path.GetFileName(existing));
        FileSystemInfo info = Directory.Exists(resolvedParent) ? new DirectoryInfo(resolvedParent) : new FileInfo(resolvedParent);
        return info.LinkTarget is null ? resolvedParent : Path.GetFullPath(info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? resolvedParent);
    }

    private static bool IsUnder(string path, IReadOnlyList<string> roots) =>
        roots.Any(root => path.Equals(root, StringComparison.Ordinal)
            || path.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal));
}
