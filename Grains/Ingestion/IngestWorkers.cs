using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Platform.Grains.Work;

namespace Platform.Grains.Ingestion;

public sealed class IngestWorkerOptions
{
    /// <summary>
    /// Leased work one silo runs at once (default: its processor count): ingest units, shard steps, job-wide steps and crawl slices
    /// share these slots; the others wait, keeping their leases.
    /// </summary>
    public int MaxConcurrentUnitsPerSilo { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// How long a completed job keeps its work folders (the units' extraction outputs and the shard attempts) before removing them
    /// (default 15 s; zero: at once). A storage that loses its last acknowledged writes in a crash (`platform up`'s own Azurite
    /// writes its tables to disk every 5 s) can bring the job back to an earlier phase, which redoes its work from these folders.
    /// </summary>
    public TimeSpan CompletedJobFolderDelay { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>The per-silo limit on running leased work (one instance per silo).</summary>
public sealed class IngestWorkerSlots(IOptions<IngestWorkerOptions> options) : IWorkSlots
{
    private readonly SemaphoreSlim slots = new(Math.Max(1, options.Value.MaxConcurrentUnitsPerSilo));

    public Task WaitAsync(CancellationToken cancellationToken) => slots.WaitAsync(cancellationToken);

    public void Release() => slots.Release();
}

public static class IngestionServiceCollectionExtensions
{
    /// <summary>What the ingestion grains need on every silo.</summary>
    public static IServiceCollection AddPlatformIngestion(this IServiceCollection services, Action<IngestWorkerOptions>? configure = null)
    {
        var options = services.AddOptions<IngestWorkerOptions>();
        if (configure is not null) options.Configure(configure);
        services.AddSingleton<IngestWorkerSlots>();
        services.AddSingleton(sp => new IngestStorage(sp.GetService<Azure.Storage.Blobs.BlobServiceClient>()));
        return services;
    }
}
