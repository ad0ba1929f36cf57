using Hangfire;
using Platform.Grains.Ingestion;
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
/// Starting an ingestion over HTTP: the request is staged in a grain and becomes a Hangfire job (listed on `/hangfire`,
/// retried by Hangfire if it fails) that submits it to the job's grain, which takes a repeated submission as the same job.
/// </summary>
public static class IngestEndpoints
{
    public const string JobsPath = "/api/ingest/jobs";

    public static void MapPlatformIngestApi(this IEndpointRouteBuilder endpoints, string? authorizationPolicy)
    {
        // Starting jobs is a job control, guarded as the dashboards are: local requests only unless a policy decides.
        var group = endpoints.MapGroup(JobsPath).GuardedLikeTheDashboards(authorizationPolicy);
        group.MapPost("", async (IngestSubmission submission, IBackgroundJobClient hangfire, IGrainFactory grains, PlatformConfiguration configuration,
            SubmissionJournal journal) =>
        {
            // This host cannot know the sender's working directory: relative paths are refused, not resolved.
            var (jobId, request, problems) = IngestSubmissions.FromClient(submission.Job, submission.Inputs, submission.Output, submission.Settings,
                submission.Dataset, submission.DatasetLocation, baseDirectory: null);
            problems = [.. problems, .. ApiPathRules.Check(request, configuration.ApiRoots())];
            if (problems.Count > 0)
                return Results.ValidationProblem(problems.GroupBy(p => p.Field).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray()),
                    title: "The ingestion cannot start as posted.");
            // On disk before anything else: the embedded default's storage may lose the next seconds of writes in a crash.
            await journal.AppendAsync(jobId, request);
            // Hangfire keeps and shows a job's arguments, and the inputs may carry SAS tokens: the job names only the staged request.
            await grains.GetGrain<IIngestSubmissionGrain>(jobId).Stage(request);
            var hangfireJob = hangfire.Enqueue<IngestSubmitJob>(job => job.RunStagedAsync(jobId));
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
}
