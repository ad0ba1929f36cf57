using System.Text.Json;
using Azure.Storage.Blobs;
using Hangfire;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;
using Platform.Silo.Hosting;
using Platform.Silo.Storage;

namespace Platform.Silo.Health;

public static class PlatformHealthChecks
{
    public const string Path = "/healthz";

    public static IServiceCollection AddPlatformHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<SiloHealthCheck>("silo")
            .AddCheck<StorageHealthCheck>("storage")
            .AddCheck<HangfireHealthCheck>("hangfire")
            .AddCheck<DatasetCheckHealthCheck>("datasets");
        services.TryAddSingleton<DatasetCheckBoard>();
        return services;
    }

    public static IEndpointConventionBuilder MapPlatformHealthChecks(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapHealthChecks(Path, new HealthCheckOptions { ResponseWriter = WriteJsonAsync });

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static Task WriteJsonAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                error = e.Value.Exception?.Message,
                data = e.Value.Data,
            }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, Json));
    }
}

/// <summary>Healthy while this silo is an active member of its cluster.</summary>
public sealed class SiloHealthCheck(ILocalSiloDetails silo, IClusterMembershipService membership) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshot = membership.CurrentSnapshot;
        var self = snapshot.GetSiloStatus(silo.SiloAddress);
        var data = new Dictionary<string, object>
        {
            ["siloName"] = silo.Name,
            ["address"] = silo.SiloAddress.ToParsableString(),
            ["clusterId"] = silo.ClusterId,
            ["membershipStatus"] = self.ToString(),
            ["activeSilos"] = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active),
        };
        return Task.FromResult(self == SiloStatus.Active
            ? HealthCheckResult.Healthy("silo is an active cluster member", data)
            : HealthCheckResult.Unhealthy($"silo is {self}", data: data));
    }
}

/// <summary>Healthy when the table and blob endpoints answer.</summary>
public sealed class StorageHealthCheck(PlatformConfiguration configuration, BlobServiceClient blobs) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        StorageConnection storage = configuration.StorageConnection;
        var data = new Dictionary<string, object>
        {
            ["emulator"] = storage.IsLocalEmulator,
            ["blobEndpoint"] = storage.BlobEndpoint.ToString(),
            ["tableEndpoint"] = storage.TableEndpoint.ToString(),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await blobs.GetPropertiesAsync(timeout.Token);
            await foreach (var _ in storage.CreateTableClient().QueryAsync(maxPerPage: 1, cancellationToken: timeout.Token))
                break;
            return HealthCheckResult.Healthy("blob and table endpoints answer", data);
        }
        catch (Exception e) when (e is Azure.RequestFailedException or OperationCanceledException or HttpRequestException)
        {
            return HealthCheckResult.Unhealthy("storage does not answer", e, data);
        }
    }
}

/// <summary>Healthy when Hangfire's storage answers and at least one Hangfire server is alive.</summary>
public sealed class HangfireHealthCheck(JobStorage storage, PlatformConfiguration configuration) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var monitoring = storage.GetMonitoringApi();
            var stats = monitoring.GetStatistics();
            var data = new Dictionary<string, object>
            {
                ["storage"] = configuration.Hangfire.StorageKind(),
                ["servers"] = stats.Servers,
                ["enqueued"] = stats.Enqueued,
                ["processing"] = stats.Processing,
                ["succeeded"] = stats.Succeeded,
                ["failed"] = stats.Failed,
            };
            return Task.FromResult(stats.Servers > 0
                ? HealthCheckResult.Healthy("job storage answers and a server is running", data)
                : HealthCheckResult.Degraded("job storage answers but no Hangfire server has reported yet", data: data));
        }
        catch (Exception e)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("Hangfire storage does not answer", e));
        }
    }
}

/// <summary>
/// Unhealthy (so /healthz answers 503) while the start-up check (<see cref="StartupRecovery"/>) runs and when it failed: until it has
/// re-driven the journals, what storage holds may still lack acknowledged work. Degraded when it found a committed shard damaged or
/// missing; tars no manifest names are listed but leave it healthy, as a job still running may commit them.
/// </summary>
public sealed class DatasetCheckHealthCheck(DatasetCheckBoard board) : IHealthCheck
{
    private const int ListedProblems = 20;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (board.Running)
            return Task.FromResult(HealthCheckResult.Unhealthy("starting: start-up check running"));
        if (board.Error is { } error)
            return Task.FromResult(HealthCheckResult.Unhealthy($"start-up check failed: {error}"));
        if (board.Results is not { } results)
            return Task.FromResult(HealthCheckResult.Healthy("this host runs no start-up check of the datasets"));
        var problems = results.SelectMany(r => r.Problems).ToList();
        var damaged = problems.Count(p => p.IsDamage);
        var data = new Dictionary<string, object>
        {
            ["datasets"] = results.Count,
            ["shardsChecked"] = results.Sum(r => r.ShardsChecked),
            ["damagedShards"] = damaged,
            ["tarsNotInManifest"] = problems.Count - damaged,
            ["problems"] = problems.OrderByDescending(p => p.IsDamage).Take(ListedProblems).Select(p => p.Detail).ToArray(),
        };
        return Task.FromResult(damaged > 0
            ? HealthCheckResult.Degraded($"{damaged} committed shards are damaged or missing (see problems); they are left as they are", data: data)
            : HealthCheckResult.Healthy("every committed shard matches its manifest checksum", data));
    }
}
