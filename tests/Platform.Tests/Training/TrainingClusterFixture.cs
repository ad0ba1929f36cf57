using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Platform.Datasets;
using Platform.Grains.Datasets;
using Platform.Grains.Devices;
using Platform.Grains.Training;
using Platform.Model.Devices;
using Platform.Tests.Infrastructure;
using SkiaSharp;

namespace Platform.Tests.Training;

/// <summary>Runs whose id starts with "hang" hang after step 2 in their first attempt, heartbeating on (see <see cref="ITrainerFaults"/>).</summary>
public sealed class HangingFirstAttempts : ITrainerFaults
{
    public const string Prefix = "hang";
    public const int Step = 2;

    public int? HangAfterStep(TrainerAssignment assignment) =>
        assignment.Spec.RunId.StartsWith(Prefix, StringComparison.Ordinal) && assignment.Attempt == 1 ? Step : null;
}

/// <summary>
/// Three silos on Azurite, of which only the second and third offer a device (one CPU slot each), with short trainer
/// leases and a scheduler that checks often, and a small committed dataset to train on. Tests run one at a time and
/// leave no run holding a device.
/// </summary>
public sealed class TrainingClusterFixture(AzuriteFixture azurite) : IAsyncLifetime
{
    public static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(10);

    private readonly string root = Directory.CreateTempSubdirectory("training-cluster-").FullName;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public ITrainingSchedulerGrain Scheduler => Grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);

    public string Dataset { get; } = $"sched-{Guid.NewGuid():N}"[..14];

    /// <summary>The silos' <see cref="TrainingClusterOptions.BenchmarkData"/>: where the default evaluations' benchmark is generated.</summary>
    public string BenchmarkData => Path.Combine(root, "benchmark");

    /// <summary>The silos' <see cref="TrainingClusterOptions.CheckpointRoot"/>.</summary>
    public string CheckpointRoot => Path.Combine(root, "checkpoints");

    /// <summary>The storage account of the silos' Azurite, where blob checkpoint locations lie.</summary>
    public BlobServiceClient Blobs => azurite.Connection.CreateBlobClient();

    /// <summary>The silo that offers no device.</summary>
    public SiloHandle IdleSilo { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var built = 0;
        Cluster = await PlatformTestCluster.StartAsync(azurite.Connection, $"training-{Guid.NewGuid().ToString("N")[..8]}", silos: 3,
            devices: _ => Interlocked.Increment(ref built) == 1 ? [] : [new TrainingDevice(DeviceKind.Cpu, 0, "test CPU", 8L << 30)],
            configure: (_, silo) =>
            {
                silo.Services.AddPlatformTraining(o =>
                {
                    o.CheckpointRoot = CheckpointRoot;
                    o.BenchmarkData = BenchmarkData;
                    o.LeaseTimeout = LeaseTimeout;
                    o.StallTimeout = StallTimeout;
                    o.CheckInterval = TimeSpan.FromMilliseconds(250);
                });
                silo.Services.AddSingleton<ITrainerFaults, HangingFirstAttempts>();
            });
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        IReadOnlyList<ClusterDevice> devices;
        while ((devices = await Grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices()).Count < 2)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The silos' devices did not appear in the inventory within a minute.");
            await Task.Delay(100);
        }
        IdleSilo = Cluster.Silos.Single(s => devices.All(d => d.Silo != s.SiloAddress.ToParsableString()));
        await CommitDatasetAsync();
    }

    private const int Shards = 2;
    private static readonly string[] things = ["bicycle", "lighthouse", "harbour", "tram", "castle", "garden"];

    /// <summary>Image-text samples in the committed dataset.</summary>
    public static int Samples => Shards * things.Length;

    /// <summary>The dataset's committed shards, as trainers read them.</summary>
    public async Task<IReadOnlyList<DatasetShard>> CommittedShardsAsync()
    {
        var manifests = Cluster.Silos[0].ServiceProvider.GetRequiredService<DatasetManifestStore>();
        return [.. (await manifests.ReadAsync(Dataset, default)).Entries.Select(manifests.Resolve)];
    }

    /// <summary>Two shards of six captioned images, committed through the dataset grain as ingestion commits them.</summary>
    private async Task CommitDatasetAsync()
    {
        var folder = new LocalDatasetFolder(Path.Combine(root, "dataset"));
        var entries = new List<ShardEntry>();
        for (var shard = 0; shard < Shards; shard++)
        {
            await folder.WriteFileAsync(DatasetLayout.TarName(shard), async stream =>
            {
                await using var writer = new WebDatasetShardWriter(stream);
                for (var i = 0; i < things.Length; i++)
                {
                    var key = $"{DatasetLayout.ShardName(shard)}{i:D4}";
                    await writer.WriteSampleAsync(new SampleRecord { Key = key, Caption = $"a photograph of the old {things[i]} on day {shard}", Status = SampleStatus.Success },
                        Image(new SKColor((byte)(40 * i), (byte)(120 + 60 * shard), 90)), default);
                }
            }, default);
            var path = Path.Combine(folder.Root, DatasetLayout.TarName(shard));
            entries.Add(new ShardEntry(DatasetLayout.ShardName(shard), things.Length, new FileInfo(path).Length, $"sha-{shard}", path, DateTimeOffset.UtcNow));
        }
        await Grains.GetGrain<IDatasetGrain>(Dataset).AddShards(entries);
    }

    private static byte[] Image(SKColor color)
    {
        using var bitmap = new SKBitmap(48, 32);
        bitmap.Erase(color);
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }

    /// <summary>
    /// A cluster of its own for a test: two silos offering one CPU device each, with this fixture's short leases, each silo's
    /// checkpoint root as <paramref name="checkpointRoot"/> gives it by silo name.
    /// </summary>
    public static Task<InProcessTestCluster> StartTwoDeviceSilosAsync(Platform.Silo.Storage.StorageConnection storage, string serviceId,
        Func<string, string> checkpointRoot, TimeSpan? stallTimeout = null) =>
        PlatformTestCluster.StartAsync(storage, serviceId, silos: 2,
            devices: _ => [DeviceDetection.CpuSlot(0)],
            configure: (silo, builder) => builder.Services.AddPlatformTraining(o =>
            {
                o.CheckpointRoot = checkpointRoot(silo);
                o.LeaseTimeout = LeaseTimeout;
                o.StallTimeout = stallTimeout ?? StallTimeout;
                o.CheckInterval = TimeSpan.FromMilliseconds(250);
            }));

    /// <summary>A tiny, quick run on one CPU device that checkpoints only when it stops.</summary>
    public TrainingRunSpec Spec(string runId, int steps) => TinySpec(runId, Dataset, steps);

    /// <summary>A tiny, quick run of <paramref name="dataset"/> on one CPU device that checkpoints only when it stops.</summary>
    public static TrainingRunSpec TinySpec(string runId, string dataset, int steps) => new()
    {
        RunId = runId,
        Dataset = dataset,
        Preset = "tiny",
        Steps = steps,
        SamplesPerStep = 2,
        WarmupSteps = 1,
        Threads = 1,
        ShuffleBuffer = 8,
        CheckpointEvery = 0,
        DeviceKind = "cpu",
        Evaluations = [],
    };

    public async Task<TrainingRunSummary> WaitForAsync(string runId, Func<TrainingRunSummary, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(3));
        while (true)
        {
            var run = await Scheduler.Get(runId) ?? throw new InvalidOperationException($"No run {runId}.");
            if (condition(run)) return run;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Run {runId} did not get {what}: {run}");
            await Task.Delay(200);
        }
    }

    public Task<TrainingRunSummary> WaitForPhaseAsync(string runId, TrainingRunPhase phase) => WaitForAsync(runId, r => r.Phase == phase, phase.ToString());

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }
}
