using System.Text.Json;
using System.Text.Json.Nodes;
using Hangfire;
using Microsoft.Extensions.Options;
using Platform.Datasets;
using Platform.Grains.Training;
using Platform.Silo.Jobs;

namespace Platform.Silo.Hosting;

/// <summary>
/// Training runs over HTTP, as `platform train submit|list|status|cancel|pause|resume` reach them: a posted run is checked
/// (400 with every problem, nothing queued), then queued by a Hangfire job (listed on `/hangfire`, retried by Hangfire)
/// that submits it to the scheduler.
/// </summary>
public static class TrainingEndpoints
{
    public const string RunsPath = "/api/train/runs";

    public static void MapPlatformTrainingApi(this IEndpointRouteBuilder endpoints, string? authorizationPolicy)
    {
        // Starting and stopping runs is a job control, guarded as the dashboards are: local requests only unless a policy decides.
        var group = endpoints.MapGroup(RunsPath).GuardedLikeTheDashboards(authorizationPolicy);
        group.MapPost("", async (HttpRequest request, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, DatasetManifestStore manifests,
            IGrainFactory grains, IBackgroundJobClient hangfire, PlatformConfiguration configuration, TrainingSubmissionJournal journal,
            CancellationToken cancellationToken) =>
        {
            var (spec, generatedRunId, bodyProblem) = await ReadSpecAsync(request, json.Value.SerializerOptions, cancellationToken);
            if (spec is null) return Problems([new("body", bodyProblem!)]);
            var statusUrl = $"{RunsPath}/{Uri.EscapeDataString(spec.RunId)}";
            // A run id the scheduler knows is that run: a repeated post finds it and queues nothing.
            if (TrainingRunIds.Problem(spec.RunId) is null && await Scheduler(grains).Get(spec.RunId) is { } existing)
                return Results.Accepted(statusUrl, new { run = existing.RunId, generatedRunId, existing = true, status = statusUrl });
            // This host cannot know the sender's working directory: relative paths are refused, not resolved.
            var submission = await new TrainingSubmissions(manifests, grains).CheckAsync(spec, baseDirectory: null, cancellationToken);
            var problems = submission.Problems.Concat(ApiPathRules.Check(submission.Spec, configuration.ApiRoots())).ToList();
            if (problems.Count > 0) return Problems(problems);
            var queued = submission.Spec;
            // The answer comes before the Hangfire job submits the run (Hangfire's storage may be in memory): on disk first.
            await journal.AppendAsync(queued, cancellationToken);
            var hangfireJob = hangfire.Enqueue<TrainingSubmitJob>(job => job.RunAsync(queued));
            return Results.Accepted(statusUrl, new { run = queued.RunId, generatedRunId, existing = false, status = statusUrl, hangfireJob });
        });
        group.MapGet("", async (IGrainFactory grains, int? finished) =>
            finished is < 0 or > MaxListedFinishedRuns
                ? Results.BadRequest(new { error = $"finished={finished}: ask for 0 to {MaxListedFinishedRuns} finished runs (default {ITrainingSchedulerGrain.ListedFinishedRuns})." })
                : Results.Ok(new { runs = await Scheduler(grains).List(finished ?? ITrainingSchedulerGrain.ListedFinishedRuns) }));
        group.MapGet("{run}", async (string run, IGrainFactory grains) =>
            await Scheduler(grains).Get(run) is null
                ? NotFound(run)
                : Results.Ok(await grains.GetGrain<ITrainingRunGrain>(run).GetStatus()));
        // A multi-trainer run's rounds: the round, each replica's progress, the bytes and barrier wait of each round.
        // Before its first report a multi-trainer run answers round 0 with a note; a single-trainer run has no rounds: 404 saying so.
        group.MapGet("{run}/diloco", async (string run, IGrainFactory grains) =>
        {
            if (await Scheduler(grains).Get(run) is null) return NotFound(run);
            return await grains.GetGrain<ITrainingRunGrain>(run).GetDiLoCoStatus() is { } status
                ? Results.Ok(status)
                : Results.NotFound(new { error = $"Run '{run}' trains with one trainer, so it has no DiLoCo rounds (a run has them when submitted with --trainers 2 or more)." });
        });
        group.MapPost("{run}/cancel", (string run, IGrainFactory grains) => ControlAsync(grains, run, scheduler => scheduler.Cancel(run)));
        group.MapPost("{run}/pause", (string run, IGrainFactory grains) => ControlAsync(grains, run, scheduler => scheduler.Pause(run)));
        group.MapPost("{run}/resume", (string run, IGrainFactory grains) => ControlAsync(grains, run, scheduler => scheduler.Resume(run)));
    }

    /// <summary>The most finished runs one listing reads (each page of the scheduler's archive is a storage read).</summary>
    public const int MaxListedFinishedRuns = 1_000;

    private static ITrainingSchedulerGrain Scheduler(IGrainFactory grains) => grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);

    private static IResult NotFound(string run) =>
        Results.NotFound(new { error = $"No training run '{run}' (a posted run appears once its Hangfire job has run; see /hangfire)." });

    private static IResult Problems(IEnumerable<TrainingSubmissionProblem> problems) =>
        Results.ValidationProblem(problems.GroupBy(p => p.Field).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray()),
            title: "The training run cannot be queued as posted.");

    private static async Task<IResult> ControlAsync(IGrainFactory grains, string run, Func<ITrainingSchedulerGrain, Task<TrainingRunSummary>> control)
    {
        var scheduler = Scheduler(grains);
        if (await scheduler.Get(run) is null) return NotFound(run);
        try
        {
            return Results.Ok(await control(scheduler));
        }
        catch (InvalidOperationException e)
        {
            // E.g. resuming a run that is not paused: the run is there, its phase does not allow it.
            return Results.Conflict(new { error = e.Message });
        }
    }

    /// <summary>
    /// The posted spec: the fields of <see cref="TrainingRunSpec"/> as JSON, a run id generated when none is given. The
    /// dataset, required by the spec's type, is left for the submission check to ask for by name.
    /// </summary>
    private static async Task<(TrainingRunSpec? Spec, bool GeneratedRunId, string? Problem)> ReadSpecAsync(HttpRequest request, JsonSerializerOptions options,
        CancellationToken cancellationToken)
    {
        JsonObject body;
        try
        {
            var node = await JsonNode.ParseAsync(request.Body, new JsonNodeOptions { PropertyNameCaseInsensitive = true }, cancellationToken: cancellationToken);
            if (node is not JsonObject parsed) return (null, false, "Post the run as a JSON object of the training spec's fields (dataset, steps, preset, ...).");
            body = parsed;
        }
        catch (JsonException e)
        {
            return (null, false, $"The body is not JSON: {e.Message}");
        }
        var generated = body["runId"] is null;
        if (generated) body["runId"] = TrainingSubmissions.NewRunId(DateTimeOffset.UtcNow);
        body["dataset"] ??= "";
        try
        {
            return (body.Deserialize<TrainingRunSpec>(options), generated, null);
        }
        catch (JsonException e)
        {
            return (null, false, $"The body does not fit the training spec: {e.Message}");
        }
    }
}
