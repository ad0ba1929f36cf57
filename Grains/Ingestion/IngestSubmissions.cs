using System.Security.Cryptography;
using System.Text;
using Platform.Datasets;
using Platform.Ingestion.Runs;

namespace Platform.Grains.Ingestion;

/// <summary>Something wrong with an ingest submission: the request field it concerns, as the HTTP API names it, and what to do.</summary>
public sealed record IngestSubmissionProblem(string Field, string Message);

/// <summary>
/// An ingest job as it is to be submitted: its id, its request, and what is wrong with it (nothing, when it may be submitted).
/// The request's lists are arrays: it crosses to the job's grain, which keeps it in state that is read back by type.
/// </summary>
public sealed record IngestJobSubmission(string JobId, IngestJobRequest Request, IReadOnlyList<IngestSubmissionProblem> Problems)
{
    public bool IsValid => Problems.Count == 0;
}

/// <summary>
/// Taking an ingest submission, whichever way it comes in (`ingest submit`, `POST /api/ingest/jobs`, a watched folder, a
/// crawl's WARC files) and again, defensively, in the job's grain: local paths made absolute, the job id derived where
/// none is given, and the request checked, each problem in words for the user. Plain functions over the request record,
/// free of the grain runtime, so every caller holds a job to the same rules.
/// </summary>
public static class IngestSubmissions
{
    /// <summary>
    /// A submission from a client on this host. Relative paths are taken from <paramref name="baseDirectory"/> (the command
    /// line's working directory), or refused when it is null (a web request, whose sender's directory this host cannot know).
    /// Local inputs must exist here; blobs are listed and checked by the job when it is submitted, with the silos' storage account.
    /// </summary>
    public static IngestJobSubmission FromClient(string? jobId, IReadOnlyList<string>? inputs, string? output, IngestJobSettings? settings,
        string? dataset, string? datasetLocation, string? baseDirectory)
    {
        string Absolute(string path) =>
            Path.IsPathFullyQualified(path) ? Path.GetFullPath(path) : baseDirectory is null ? path : Path.GetFullPath(path, baseDirectory);
        var request = new IngestJobRequest(
            (inputs ?? []).Select(i => DumpInputs.IsBlobUrl(i) ? i : Absolute(i)).ToArray(),
            string.IsNullOrWhiteSpace(output) ? "" : Absolute(output),
            settings ?? new IngestJobSettings(),
            dataset,
            datasetLocation is null || DatasetTarget.IsBlobUrl(datasetLocation) ? datasetLocation : Absolute(datasetLocation));

        var problems = new List<IngestSubmissionProblem>();
        var localInputs = request.Inputs.Where(i => !DumpInputs.IsBlobUrl(i)).ToList();
        problems.AddRange(localInputs.Where(i => !Path.IsPathFullyQualified(i))
            .Select(i => new IngestSubmissionProblem("inputs", $"'{i}' is neither a blob URL nor an absolute path of an existing file on this host.")));
        var missing = localInputs.Where(i => Path.IsPathFullyQualified(i) && !File.Exists(i)).ToList();
        if (missing.Count > 0) problems.Add(new("inputs", "Input not found: " + string.Join(", ", missing)));
        if (request.OutputDirectory.Length > 0 && !Path.IsPathFullyQualified(request.OutputDirectory)) problems.Add(new("output", OutputProblem));
        if (request.DatasetLocation is { } location && !DatasetTarget.IsBlobUrl(location) && !Path.IsPathFullyQualified(location))
            problems.Add(new("datasetLocation", "Give the dataset location as an absolute path or a blob URL."));
        problems.AddRange(Problems(request));
        if (jobId is not null && !DatasetLayout.IsValidJobId(jobId)) problems.Add(new("job", DatasetLayout.InvalidJobId(jobId)));
        // A request without an output has no id to derive; it is refused anyway.
        var id = jobId ?? (request.OutputDirectory.Length == 0 ? "" : JobIdFor(request.Inputs, request.OutputDirectory, request.Dataset, request.DatasetLocation));
        return new IngestJobSubmission(id, request, problems);
    }

    /// <summary>A dump a watched folder's scan claimed: one job per claim, writing under the watch's work folder.</summary>
    public static IngestJobSubmission ForWatchedFile(string claimJobId, string input, string workDirectory, string? dataset) =>
        Checked(claimJobId, new IngestJobRequest(new[] { input }, Path.Combine(workDirectory, claimJobId), new IngestJobSettings(), dataset));

    /// <summary>A crawl's WARC files, ingested into the crawl's dataset under its output folder.</summary>
    public static IngestJobSubmission ForCrawl(string crawlId, IReadOnlyList<string> warcFiles, string crawlOutputDirectory, IngestJobSettings settings, string dataset) =>
        Checked(CrawlJobId(crawlId), new IngestJobRequest(warcFiles.ToArray(), Path.Combine(crawlOutputDirectory, "ingest"), settings, dataset));

    private static IngestJobSubmission Checked(string jobId, IngestJobRequest request) => new(jobId, request, Problems(request));

    /// <summary>A job id that depends only on what is ingested, so submitting the same inputs twice finds the same job.</summary>
    public static string JobIdFor(IEnumerable<string> inputs, string outputDirectory, string? dataset, string? datasetLocation = null)
    {
        // A job into the default location keeps the id it had before locations could be chosen.
        var text = string.Join('\n', inputs.Select(FullInput)) + "\n>" + Path.GetFullPath(outputDirectory) + "\n@" + dataset
            + (datasetLocation is null ? "" : "\n=" + datasetLocation);
        return "ingest-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }

    /// <summary>One job per (watch, file): the same file claimed again (after a lost write) maps to the same job.</summary>
    public static string WatchedFileJobId(string watch, string relativePath) =>
        "watch-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(watch + "\n" + relativePath)))[..16];

    /// <summary>The id of the ingest job a crawl submits its WARC files to.</summary>
    public static string CrawlJobId(string crawlId) => "crawl-" + crawlId;

    /// <summary>A local input by its full path; a blob URL as it is.</summary>
    private static string FullInput(string input) => DumpInputs.IsBlobUrl(input) ? input : Path.GetFullPath(input);

    private const string OutputProblem = "Give the output directory as an absolute path.";

    /// <summary>The rules every job is held to, wherever it is checked: what is missing, out of range or malformed.</summary>
    public static IReadOnlyList<IngestSubmissionProblem> Problems(IngestJobRequest request)
    {
        var problems = new List<IngestSubmissionProblem>();
        if (request.Inputs.Count == 0) problems.Add(new("inputs", "Give at least one input file."));
        if (string.IsNullOrWhiteSpace(request.OutputDirectory)) problems.Add(new("output", OutputProblem));
        var settings = request.Settings;
        void AtLeast<T>(string name, T value, T least) where T : IComparable<T>
        {
            if (value.CompareTo(least) < 0) problems.Add(new("settings", $"settings.{name} must be at least {least} (it is {value})."));
        }
        AtLeast("maxAttempts", settings.MaxAttempts, 1);
        AtLeast("leaseTimeout", settings.LeaseTimeout, TimeSpan.FromSeconds(1));
        AtLeast("samplesPerShard", settings.SamplesPerShard, 1);
        AtLeast("unitBytes", settings.UnitBytes, 1);
        if (request.Dataset is { } dataset)
        {
            if (!DatasetNames.IsValid(dataset)) problems.Add(new("dataset", DatasetNames.Invalid(dataset)));
        }
        else if (request.DatasetLocation is not null) problems.Add(new("datasetLocation", "A dataset location needs a dataset to commit the shards to."));
        return problems;
    }

    /// <summary>The job's own check of a submission (its callers may not have checked): every problem in one <see cref="ArgumentException"/>.</summary>
    public static void ThrowIfInvalid(IngestJobRequest request)
    {
        var problems = Problems(request);
        if (problems.Count > 0) throw new ArgumentException(string.Join(" ", problems.Select(p => p.Message)));
    }
}
