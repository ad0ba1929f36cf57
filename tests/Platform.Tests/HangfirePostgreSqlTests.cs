using System.Text.Json;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Grains.Datasets;
using Platform.Silo.Hosting;
using Platform.Silo.Jobs;
using Platform.Silo.Storage;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>
/// Hangfire on a real PostgreSQL server on loopback (`.ci/run` installs and starts one and sets
/// PLATFORM_TEST_POSTGRES). Outside CI the test skips, saying why, when no server is configured.
/// </summary>
public sealed class HangfirePostgreSqlTests(AzuriteFixture azurite)
{
    public const string ServerVariable = "PLATFORM_TEST_POSTGRES";

    [Fact]
    public async Task A_job_enqueued_through_the_host_runs_and_its_state_is_stored_in_postgresql()
    {
        var server = Environment.GetEnvironmentVariable(ServerVariable);
        if (string.IsNullOrWhiteSpace(server))
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                Assert.Fail($"{ServerVariable} is not set under CI=true: .ci/run must start PostgreSQL and export it.");
            Assert.Skip($"No PostgreSQL configured: set {ServerVariable} to a connection string (deploy/test.sh starts a server and sets it).");
        }

        var ct = TestContext.Current.CancellationToken;
        var database = "hangfire_test_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync(ct);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
            await create.ExecuteNonQueryAsync(ct);
        }
        var jobDatabase = new NpgsqlConnectionStringBuilder(server) { Database = database, Pooling = false }.ConnectionString;

        try
        {
            var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Storage:ConnectionString"] = azurite.Connection.ConnectionString,
                ["Clustering:SiloPort"] = AzuriteEmulator.FreeTcpPort().ToString(),
                ["Clustering:GatewayPort"] = AzuriteEmulator.FreeTcpPort().ToString(),
                ["Clustering:ServiceId"] = "hangfire-pg-" + database,
                ["Hangfire:PostgreSqlConnectionString"] = jobDatabase,
                ["Web:Urls"] = $"http://127.0.0.1:{AzuriteEmulator.FreeTcpPort()}",
            }).Build();
            var app = PlatformHost.Build(PlatformConfiguration.Load(settings), settings);
            await app.StartAsync(ct);
            try
            {
                var dataset = app.Services.GetRequiredService<IGrainFactory>().GetGrain<IDatasetGrain>("audited");
                await dataset.AddShards([
                    new ShardEntry("00000", 10, 1000, "c0", "s/00000.tar", DateTimeOffset.UnixEpoch),
                    new ShardEntry("00001", 32, 3200, "c1", "s/00001.tar", DateTimeOffset.UnixEpoch),
                ]);

                var jobId = app.Services.GetRequiredService<IBackgroundJobClient>()
                    .Enqueue<DatasetAuditJob>(job => job.RunAsync("audited"));

                var (state, result) = await WaitForFinalStateAsync(jobDatabase, jobId, TimeSpan.FromSeconds(90), ct);
                Assert.Equal("Succeeded", state);
                // Hangfire keeps the job's return value as a JSON string inside the state's data.
                using var data = JsonDocument.Parse(result);
                using var report = JsonDocument.Parse(data.RootElement.GetProperty("Result").GetString()!);
                Assert.Equal("audited", report.RootElement.GetProperty("Dataset").GetString());
                Assert.Equal(2, report.RootElement.GetProperty("ShardCount").GetInt32());
                Assert.Equal(42, report.RootElement.GetProperty("SampleCount").GetInt64());
                Assert.True(report.RootElement.GetProperty("Consistent").GetBoolean());
            }
            finally
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(server);
            await admin.OpenAsync(CancellationToken.None);
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>Reads the job's state straight from Hangfire's tables, not through Hangfire's API.</summary>
    private static async Task<(string State, string Data)> WaitForFinalStateAsync(string connectionString, string jobId, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        string state = "";
        while (DateTime.UtcNow < deadline)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            await using var query = new NpgsqlCommand(
                "SELECT j.statename, s.data::text FROM hangfire.job j LEFT JOIN hangfire.state s ON s.id = j.stateid WHERE j.id = @id", connection);
            query.Parameters.AddWithValue("id", long.Parse(jobId));
            await using var reader = await query.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                state = reader.IsDBNull(0) ? "" : reader.GetString(0);
                if (state is "Succeeded" or "Failed")
                    return (state, reader.IsDBNull(1) ? "" : reader.GetString(1));
            }
            await Task.Delay(250, ct);
        }
        throw new TimeoutException($"job {jobId} still '{state}' after {timeout}");
    }
}
