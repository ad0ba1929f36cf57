using Hangfire;
using Platform.Dashboard;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Runs;
using Platform.Silo.Jobs;

namespace Platform.Silo.Hosting;

/// <summary>What `POST /api/ingest/jobs` takes: the inputs and output as `platform ingest submit` takes them.</summary>
/// <param name="Inputs">Absolute paths of WARC/WAT files and URL lists on storage every silo can read, or blob URLs (a blob, or a container or prefix standing for its dumps).</param>
/// <param name="Output">Absolute path of the job's output directory, on storage every silo can write.</param>
/// <param name="Dataset">Dataset the shards are committed to; none: extraction only (candidates, text and funnel in the output).</param>
/// <param name="Job">Job id; default derived from inputs, output and dataset, so posting the same ingestion twice finds the same job.</param>
/// <param name="Settings">Filters, leases and shard size; default those of `ingest submit`.</param>
/// <param name="DatasetLocation">Where the shards go: a folder or a blob URL in the platform's account; default `OUTPUT/dataset`.</param>
public sealed record IngestSubmission(string[]? Inputs, string? Output, string? Dataset = null, string? Job = null, IngestJobSettings? Settings = null,
    string? DatasetLocation = null);

/// <summary>
/// Starting an ingestion over HTTP: the request becomes a Hangfire job (listed on `/hangfire`, retried by Hangfire
/// if it fails) that submits to the job's grain, which takes a repeated submission as the same job.
/// </summary>
public static class IngestEndpoints
{
    public const string JobsPath = "/api/ingest/jobs";

    public static void MapPlatformIngestApi(this IEndpointRouteBuilder endpoints, string? authorizationPolicy)
    {
        var group = endpoints.MapGroup(JobsPath);
        // Starting jobs is a job control, guarded as the dashboards are: local requests only unless a policy decides.
        if (!string.IsNullOrWhiteSpace(authorizationPolicy)) group.RequireAuthorization(authorizationPolicy);
        else group.AddEndpointFilter(async (context, next) =>
            DashboardEndpoints.IsLocal(context.HttpContext) ? await next(context) : Results.StatusCode(StatusCodes.Status403Forbidden));
        group.MapPost("", (IngestSubmission submission, IBackgroundJobClient hangfire) =>
        {
            var problems = Validate(submission);
            if (problems.Count > 0) return Results.ValidationProblem(problems, title: "The ingestion cannot start as posted.");
            var inputs = submission.Inputs!.Select(IngestSubmitJob.FullInput).ToArray();
            var jobId = submission.Job ?? IngestSubmitJob.JobIdFor(inputs, submission.Output!, submission.Dataset, submission.DatasetLocation);
            var settings = submission.Settings ?? new IngestJobSettings();
            var hangfireJob = hangfire.Enqueue<IngestSubmitJob>(job =>
                job.RunAsync(jobId, inputs, submission.Output!, submission.Dataset, settings, submission.DatasetLocation));
            return Results.Accepted($"{JobsPath}/{Uri.EscapeDataString(jobId)}", new { job = jobId, hangfireJob });
        });
        group.MapGet("{job}", async (string job, IGrainFactory grains) =>
        {
            var status = await grains.GetGrain<IIngestJobGrain>(job).GetStatus();
            return status.Phase == IngestJobPhase.NotSubmitted
                ? Results.NotFound(new { error = $"No ingest job '{job}' (a posted job appears once its Hangfire job has run; see /hangfire)." })
                : Results.Ok(status);
        });
    }

    private static Dictionary<string, string[]> Validate(IngestSubmission submission)
    {
        var problems = new Dictionary<string, string[]>();
        if (submission.Inputs is not { Length: > 0 } inputs) problems["inputs"] = ["Give at least one input file."];
        else
        {
            // Blobs are listed and checked by the job when it is submitted, with the silos' storage account.
            var wrong = inputs.Where(i => !DumpInputs.IsBlobUrl(i) && (!Path.IsPathFullyQualified(i) || !File.Exists(i))).ToList();
            if (wrong.Count > 0) problems["inputs"] = [.. wrong.Select(i => $"'{i}' is neither a blob URL nor an absolute path of an existing file on this host.")];
        }
        if (string.IsNullOrWhiteSpace(submission.Output) || !Path.IsPathFullyQualified(submission.Output))
            problems["output"] = ["Give the output directory as an absolute path."];
        if (submission.Dataset is { } dataset)
        {
            try { Platform.Datasets.DatasetNames.Validate(dataset); }
            catch (ArgumentException error) { problems["dataset"] = [error.Message]; }
        }
        return problems;
    }
}
