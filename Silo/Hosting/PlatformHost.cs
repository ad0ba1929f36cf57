using Orleans.Dashboard;
using Microsoft.AspNetCore.Authorization;
using Platform.Dashboard;
using Platform.Grains.Training;
using Platform.Silo.Health;

namespace Platform.Silo.Hosting;

/// <summary>
/// The embedded platform: one process with an Orleans silo, the Hangfire server, the Orleans and
/// Hangfire dashboards and the health endpoint, all on the configured (loopback by default) address.
/// </summary>
public static class PlatformHost
{
    public static WebApplication Build(PlatformConfiguration configuration, IConfiguration source, string[]? args = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args ?? [],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddConfiguration(source);
        builder.WebHost.UseUrls(configuration.Web.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddSingleton(configuration);
        var devices = configuration.ResolveTrainingDevices(out var detectionProblem);

        builder.UseOrleans(silo =>
        {
            silo.AddPlatformClustering(configuration.Clustering, configuration.StorageConnection);
            silo.AddPlatformStorage(configuration.StorageConnection, configuration.Storage.ManifestContainer);
            silo.Services.Configure<Platform.Grains.Work.StorageRetryOptions>(o => o.OutageRetryCeiling = configuration.Storage.OutageRetryCeiling);
            silo.AddPlatformDevices(devices);
            silo.Services.AddPlatformTraining(configuration.ApplyTrainingSettings);
            silo.AddDashboard();
        });

        var serverName = $"{Environment.MachineName}:{configuration.Clustering.SiloPort}";
        builder.Services.AddPlatformHangfire(configuration.Hangfire, serverName);
        builder.Services.AddPlatformHealthChecks();
        var journal = new SubmissionJournal(SubmissionJournal.FolderFor(configuration));
        builder.Services.AddSingleton(journal);
        if (journal.IsOn) builder.Services.AddSingleton<Platform.Grains.Ingestion.IIngestSubmissionJournal>(journal);
        var trainingJournal = new TrainingSubmissionJournal(SubmissionJournal.FolderFor(configuration));
        builder.Services.AddSingleton(trainingJournal);
        if (trainingJournal.IsOn) builder.Services.AddSingleton<Platform.Grains.Training.ITrainingSubmissionJournal>(trainingJournal);
        var commitJournal = new ShardCommitJournal(SubmissionJournal.FolderFor(configuration));
        builder.Services.AddSingleton(commitJournal);
        if (commitJournal.IsOn) builder.Services.AddSingleton<Platform.Grains.Datasets.IShardCommitJournal>(commitJournal);
        builder.Services.AddSingleton<ShardCommitJournalReplay>();
        builder.Services.AddSingleton<SubmissionJournalReplay>();
        if (journal.IsOn)
        {
            builder.Services.AddSingleton(new CleanStopMarker(SubmissionJournal.FolderFor(configuration)!));
            builder.Services.AddHostedService<StartupRecovery>();
        }
        builder.Services.AddAuthorization();
        builder.Services.AddHostFiltering(o =>
        {
            o.AllowedHosts = [.. configuration.Web.EffectiveAllowedHosts()];
            o.IncludeFailureMessage = false;
        });
        var proxies = configuration.Web.TrustedProxyAddresses();
        if (proxies.Count > 0)
            builder.Services.Configure<Microsoft.AspNetCore.Builder.ForwardedHeadersOptions>(o =>
            {
                o.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto;
                o.KnownProxies.Clear();
                o.KnownIPNetworks.Clear();
                foreach (var proxy in proxies) o.KnownProxies.Add(proxy);
            });
        builder.Services.AddPlatformPages(configuration.Storage.ManifestContainer);
        // The pages' scripts and styles (Blazor's, Radzen's, ours) are served from the build output in every environment.
        builder.WebHost.UseStaticWebAssets();
        // The HTTP API speaks enum names (phases, states), as the command line prints them.
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));

        var app = builder.Build();
        if (detectionProblem is not null)
            app.Logger.LogWarning("No CUDA devices were detected because {Problem}; this silo offers {Devices}.", detectionProblem,
                devices.Count == 0 ? "none" : string.Join(", ", devices.Select(d => d.Id)));
        var policy = configuration.Web.DashboardAuthorizationPolicy;
        if (!string.IsNullOrWhiteSpace(policy))
            EnsurePolicyExists(app, policy);
        // Before anything that judges where a request comes from: a trusted proxy's X-Forwarded-For becomes the remote address.
        if (proxies.Count > 0) app.UseForwardedHeaders();
        app.UseHostFiltering();
        app.MapPlatformHealthChecks();
        app.MapPlatformDashboards(policy, Platform.Silo.Jobs.PlatformJobPages.PageOf);
        app.MapPlatformIngestApi(policy);
        app.MapPlatformDevicesApi(policy);
        app.MapPlatformTrainingApi(policy);
        app.MapPlatformPages(policy);
        return app;
    }

    private static void EnsurePolicyExists(WebApplication app, string policy)
    {
        var provider = app.Services.GetRequiredService<IAuthorizationPolicyProvider>();
        if (provider.GetPolicyAsync(policy).GetAwaiter().GetResult() is null)
            throw new PlatformConfigurationException([
                $"{SettingsValidation.Name(WebSettings.Section, nameof(WebSettings.DashboardAuthorizationPolicy))} names policy '{policy}', which this host does not register; leave it empty for local-only dashboards.",
            ]);
    }
}
