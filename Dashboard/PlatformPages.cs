using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Platform.Dashboard.Components;
using Platform.Dashboard.Services;
using Platform.Grains.Training;
using Radzen;

namespace Platform.Dashboard;

/// <summary>
/// The platform's own pages (Blazor, interactive on the server: each open tab is a SignalR circuit that pushes updates,
/// and a closed tab ends its circuit). Guarded like the Orleans and Hangfire dashboards: local requests only unless an
/// authorization policy decides. Mutating actions are form POSTs with an antiforgery token.
/// </summary>
public static class PlatformPages
{
    public const string OverviewPath = "/";
    public const string RunsPath = "/runs";
    public const string DatasetsPath = "/datasets";
    public const string LeaderboardPath = "/leaderboard";
    public const string DevicesPath = "/devices";
    public const string ErrorPath = "/error";

    /// <summary>Every path the pages answer on, their assets and their SignalR hub: what the local-only guard covers.</summary>
    private static readonly string[] GuardedPrefixes =
        [RunsPath, DatasetsPath, LeaderboardPath, DevicesPath, ErrorPath, EvaluationOutputs.PathPrefix, "/ingest", "/crawl", "/_blazor", "/_framework", "/_content"];

    /// <param name="manifestContainer">The blob container holding the datasets' manifests (one folder per dataset).</param>
    public static IServiceCollection AddPlatformPages(this IServiceCollection services, string manifestContainer)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddRadzenComponents();
        services.AddSingleton(new DatasetCatalogOptions(manifestContainer));
        services.AddSingleton<DatasetCatalog>();
        services.AddSingleton<DatasetFunnels>();
        return services;
    }

    /// <summary>
    /// The static assets manifest the build wrote beside the program: the host's own, or the `platform` executable's when
    /// another program (a test host) builds the platform in its process and took it over as a referenced project's output.
    /// </summary>
    private static string? StaticAssetsManifest(WebApplication app) =>
        new[] { app.Environment.ApplicationName, "platform" }
            .Select(name => Path.Combine(AppContext.BaseDirectory, $"{name}.staticwebassets.endpoints.json"))
            .FirstOrDefault(File.Exists);

    public static WebApplication MapPlatformPages(this WebApplication app, string? authorizationPolicy)
    {
        var restricted = string.IsNullOrWhiteSpace(authorizationPolicy);
        // Only the pages show the error page: the API keeps answering its own status codes.
        app.UseWhen(context => IsPagePath(context.Request.Path),
            branch => branch.UseExceptionHandler(ErrorPath, createScopeForErrors: true));
        if (restricted) app.UseLocalRequestsOnly(context => IsPagePath(context.Request.Path));
        app.UseAntiforgery();

        var assets = app.MapStaticAssets(StaticAssetsManifest(app));
        var pages = app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        var actions = app.MapGroup(RunsPath);
        actions.MapPost("{run}/{action:regex(^(pause|resume|cancel)$)}", ControlRunAsync);
        var images = app.MapGroup(DatasetsPath);
        images.MapGet("{dataset}/shards/{shard}/image", SampleImageEndpoint.ServeAsync);
        var evaluations = app.MapGroup(EvaluationOutputs.PathPrefix);
        evaluations.MapGet("{task}/output", EvaluationOutputs.ServeFileAsync);
        evaluations.MapGet("{task}/image", EvaluationOutputs.ServeImageAsync);
        if (!restricted)
        {
            assets.RequireAuthorization(authorizationPolicy!);
            pages.RequireAuthorization(authorizationPolicy!);
            actions.RequireAuthorization(authorizationPolicy!);
            images.RequireAuthorization(authorizationPolicy!);
            evaluations.RequireAuthorization(authorizationPolicy!);
        }
        return app;
    }

    public static bool IsPagePath(PathString path) =>
        path == OverviewPath || GuardedPrefixes.Any(prefix => path.StartsWithSegments(prefix));

    /// <summary>
    /// Pause, resume or cancel from a run's page: the scheduler grain's calls that `POST /api/train/runs/{run}/{action}` and
    /// `platform train pause|resume|cancel` make. Answers with a redirect back to the run's page, which shows the outcome.
    /// </summary>
    private static async Task<IResult> ControlRunAsync(string run, string action, HttpContext context, IAntiforgery antiforgery, IGrainFactory grains)
    {
        try
        {
            await antiforgery.ValidateRequestAsync(context);
        }
        catch (AntiforgeryValidationException)
        {
            return Results.BadRequest("The form expired or did not come from this site; reload the run's page and try again.");
        }
        var scheduler = grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        var page = $"{RunsPath}/{Uri.EscapeDataString(run)}";
        if (await scheduler.Get(run) is null) return Results.NotFound($"No training run '{run}'.");
        try
        {
            await (action switch
            {
                "pause" => scheduler.Pause(run),
                "resume" => scheduler.Resume(run),
                _ => scheduler.Cancel(run),
            });
            return Results.Redirect(page);
        }
        catch (InvalidOperationException e)
        {
            // E.g. resuming a run that is not paused: the page says why instead of failing.
            return Results.Redirect($"{page}?refused={Uri.EscapeDataString(e.Message)}");
        }
    }
}
