using Hangfire;
using Hangfire.PostgreSql;
using Platform.Dashboard;
using Platform.Silo.Jobs;

namespace Platform.Silo.Hosting;

public static class HangfireServiceExtensions
{
    /// <summary>Hangfire with in-memory storage by default, PostgreSQL when a connection string is configured.</summary>
    public static IServiceCollection AddPlatformHangfire(this IServiceCollection services, HangfireSettings settings, string serverName)
    {
        services.AddHangfire(config =>
        {
            config.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings()
                .UsePlatformPageLinks(PlatformJobPages.PageOf);
            if (string.IsNullOrWhiteSpace(settings.PostgreSqlConnectionString))
                config.UseInMemoryStorage();
            else
                config.UsePostgreSqlStorage(
                    o => o.UseNpgsqlConnection(settings.PostgreSqlConnectionString),
                    new PostgreSqlStorageOptions { SchemaName = settings.Schema, PrepareSchemaIfNecessary = true });
        });
        services.AddHangfireServer(o =>
        {
            o.WorkerCount = settings.WorkerCount;
            o.ServerName = serverName;
            o.SchedulePollingInterval = settings.SchedulePollingInterval;
        });
        services.AddTransient<DatasetAuditJob>();
        services.AddTransient<IngestSubmitJob>();
        services.AddTransient<IngestFolderWatchJob>();
        services.AddHostedService<IngestWatchScheduler>();
        services.AddTransient<TrainingSubmitJob>();
        services.AddTransient<TrainingRunCheckJob>();
        services.AddHostedService<TrainingRunCheckScheduler>();
        return services;
    }

    public static string StorageKind(this HangfireSettings settings) =>
        string.IsNullOrWhiteSpace(settings.PostgreSqlConnectionString) ? "InMemory" : "PostgreSql";
}
