using Microsoft.Extensions.Configuration;
using Platform.Datasets;
using Platform.Silo.Hosting;
using Platform.Tests.Infrastructure;
using Platform.Tests.Training;

namespace Platform.Tests.Dashboard;

/// <summary>One real `platform up` with one CPU device and a committed dataset, shared by the dashboard's tests.</summary>
public sealed class DashboardPlatformFixture : IAsyncLifetime
{
    public const string Dataset = "web";
    public const int Samples = 8;

    private readonly string _root = Directory.CreateTempSubdirectory("dashboard-").FullName;
    private RunningPlatform? _platform;
    private PlatformClient? _client;

    internal RunningPlatform Platform => _platform ?? throw new InvalidOperationException("not started");
    public IGrainFactory Grains => (_client ?? throw new InvalidOperationException("not started")).Grains;
    public string Root => _root;

    public async ValueTask InitializeAsync()
    {
        _platform = await TrainCommandTests.StartWithOneCpuAsync(_root);
        await TrainCommandDatasets.WriteAsync(_platform.Storage.CreateBlobClient(), Dataset, Path.Combine(_root, Dataset), Samples, TestContext.Current.CancellationToken);
        // The shard's stats as the ingest pipeline writes them beside its tar: what the dataset page's funnel shows.
        var stats = new ShardStats { Shard = DatasetLayout.ShardName(0) };
        for (var i = 0; i < Samples; i++) stats.Count(new SampleRecord { Status = SampleStatus.Success });
        for (var i = 0; i < 2; i++) stats.Count(new SampleRecord { Status = SampleStatus.Rejected, ErrorMessage = "image_too_small" });
        stats.Count(new SampleRecord { Status = SampleStatus.Duplicate, ErrorMessage = "duplicate_sha256" });
        await File.WriteAllBytesAsync(Path.Combine(_root, Dataset, DatasetLayout.StatsName(0)), stats.ToJson(), TestContext.Current.CancellationToken);
        _client = await PlatformClient.ConnectAsync(PlatformConfiguration.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = _platform.Storage.ConnectionString,
            ["Clustering:GatewayPort"] = _platform.GatewayPort.ToString(),
            ["Clustering:ServiceId"] = PlatformProcess.ServiceId,
        }).Build()), TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_platform is not null) await _platform.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}
