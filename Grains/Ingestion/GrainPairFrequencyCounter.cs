using Platform.Ingestion.Filters;

namespace Platform.Grains.Ingestion;

/// <summary>
/// <see cref="IPairFrequencyCounter"/> over the partitioned <see cref="IPairCountGrain"/>s of one
/// counting scope, for code running off the grain scheduler (its synchronous members block on grain calls).
/// Counting phase: <see cref="Observe"/> buffers per partition and sends a partition's buffer once it
/// holds <see cref="BatchSize"/> entries; <see cref="FlushAsync"/> sends the rest. Filtering phase:
/// <see cref="PrefetchAsync"/> fetches the counts of many pairs in a few batched calls, and the lookups
/// answer from that snapshot only (a key outside it is a caller bug and throws).
/// Keys and normalisation are those of <see cref="InProcessPairFrequencyCounter"/>, so decisions match it.
/// </summary>
public sealed class GrainPairFrequencyCounter : IBatchedPairFrequencyCounter
{
    private readonly IGrainFactory grains;
    private readonly string scope;
    private readonly FrequencyFilterOptions options;
    private readonly PartitionBuffer?[] buffers = new PartitionBuffer?[PairCountPartitions.Count];
    private readonly Guid?[] activations = new Guid?[PairCountPartitions.Count];
    private readonly Dictionary<ulong, int> imagesPerAlt = [];
    private readonly Dictionary<ulong, int> altsPerImage = [];

    /// <param name="batchSize">Entries per partition per call (default 4096); each observation adds one entry to two partitions.</param>
    public GrainPairFrequencyCounter(IGrainFactory grains, string scope, FrequencyFilterOptions options, int batchSize = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        this.grains = grains;
        this.scope = scope;
        this.options = options;
        BatchSize = batchSize;
    }

    public int BatchSize { get; }

    /// <summary>Grain calls made so far (adds and gets), to check that calls stay batched.</summary>
    public int Calls => calls;

    private int calls;

    public void Observe(string imageUrl, string altText)
    {
        var image = InProcessPairFrequencyCounter.Hash(imageUrl);
        var alt = InProcessPairFrequencyCounter.HashNormalized(altText);
        var altPartition = PairCountPartitions.Of(alt);
        var imagePartition = PairCountPartitions.Of(image);
        (buffers[altPartition] ??= new()).AddImageForAlt(alt, image);
        (buffers[imagePartition] ??= new()).AddAltForImage(image, alt);
        if (buffers[altPartition]!.Entries >= BatchSize) SendAsync(altPartition).GetAwaiter().GetResult();
        if (imagePartition != altPartition && buffers[imagePartition]!.Entries >= BatchSize) SendAsync(imagePartition).GetAwaiter().GetResult();
    }

    /// <summary>Sends every buffered observation; the counts are complete once every observer has flushed.</summary>
    public Task FlushAsync() =>
        Task.WhenAll(Enumerable.Range(0, PairCountPartitions.Count).Where(p => buffers[p] is { Entries: > 0 }).Select(SendAsync));

    /// <summary>Replaces the snapshot with the final counts of these pairs, fetched with one call per partition touched.</summary>
    public async Task PrefetchAsync(IEnumerable<(string ImageUrl, string AltText)> pairs)
    {
        imagesPerAlt.Clear();
        altsPerImage.Clear();
        var altKeys = new HashSet<ulong>[PairCountPartitions.Count];
        var imageKeys = new HashSet<ulong>[PairCountPartitions.Count];
        foreach (var (imageUrl, altText) in pairs)
        {
            var image = InProcessPairFrequencyCounter.Hash(imageUrl);
            var alt = InProcessPairFrequencyCounter.HashNormalized(altText);
            (altKeys[PairCountPartitions.Of(alt)] ??= []).Add(alt);
            (imageKeys[PairCountPartitions.Of(image)] ??= []).Add(image);
        }
        var fetches = Enumerable.Range(0, PairCountPartitions.Count)
            .Where(p => altKeys[p] is not null || imageKeys[p] is not null)
            .Select(async p =>
            {
                var alts = altKeys[p]?.ToArray() ?? [];
                var images = imageKeys[p]?.ToArray() ?? [];
                Interlocked.Increment(ref calls);
                var snapshot = await grains.GetGrain<IPairCountGrain>(PairCountPartitions.Key(scope, p)).Get(alts, images);
                CheckActivation(p, snapshot.Activation);
                return (alts, images, snapshot);
            });
        foreach (var (alts, images, snapshot) in await Task.WhenAll(fetches))
        {
            for (var i = 0; i < alts.Length; i++) imagesPerAlt[alts[i]] = snapshot.ImagesPerAlt[i];
            for (var i = 0; i < images.Length; i++) altsPerImage[images[i]] = snapshot.AltsPerImage[i];
        }
    }

    public int DistinctImagesFor(string altText) =>
        imagesPerAlt.TryGetValue(InProcessPairFrequencyCounter.HashNormalized(altText), out var count) ? count
        : throw new InvalidOperationException($"The counts of alt text '{altText}' were not prefetched.");

    public int DistinctAltTextsFor(string imageUrl) =>
        altsPerImage.TryGetValue(InProcessPairFrequencyCounter.Hash(imageUrl), out var count) ? count
        : throw new InvalidOperationException($"The counts of image '{imageUrl}' were not prefetched.");

    /// <summary>Lets the partitions of this scope go; call once the filtering phase is over.</summary>
    public Task ReleaseAsync() =>
        Task.WhenAll(Enumerable.Range(0, PairCountPartitions.Count).Select(p => grains.GetGrain<IPairCountGrain>(PairCountPartitions.Key(scope, p)).Release()));

    private async Task SendAsync(int partition)
    {
        var buffer = buffers[partition]!;
        buffers[partition] = null;
        Interlocked.Increment(ref calls);
        var activation = await grains.GetGrain<IPairCountGrain>(PairCountPartitions.Key(scope, partition)).Add(new PairCountBatch(
            [.. buffer.AltKeys], [.. buffer.ImagesByAlt], [.. buffer.ImageKeys], [.. buffer.AltsByImage],
            options.MaxImagesPerAltText + 1, options.MaxAltTextsPerImage + 1));
        CheckActivation(partition, activation);
    }

    /// <summary>
    /// A partition whose silo died comes back empty under a new activation: its earlier counts are gone,
    /// so the scope's counts can no longer be trusted and the caller must recount under a fresh scope.
    /// </summary>
    private void CheckActivation(int partition, Guid activation)
    {
        lock (activations)
        {
            if (activations[partition] is { } known && known != activation)
                throw new PairCountsLostException(scope, partition);
            activations[partition] = activation;
        }
    }

    private sealed class PartitionBuffer
    {
        public List<ulong> AltKeys { get; } = [];
        public List<ulong> ImagesByAlt { get; } = [];
        public List<ulong> ImageKeys { get; } = [];
        public List<ulong> AltsByImage { get; } = [];
        public int Entries => AltKeys.Count + ImageKeys.Count;

        public void AddImageForAlt(ulong alt, ulong image)
        {
            AltKeys.Add(alt);
            ImagesByAlt.Add(image);
        }

        public void AddAltForImage(ulong image, ulong alt)
        {
            ImageKeys.Add(image);
            AltsByImage.Add(alt);
        }
    }
}

/// <summary>A counting partition lost its counts (its silo died) while a run was counting or filtering.</summary>
public sealed class PairCountsLostException(string scope, int partition)
    : Exception($"Pair counts of scope '{scope}' partition {partition:x2} were lost (the partition was reactivated); recount under a new scope.");
