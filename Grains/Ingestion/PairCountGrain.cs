namespace Platform.Grains.Ingestion;

public sealed class PairCountGrain : Grain, IPairCountGrain
{
    private readonly Guid activation = Guid.NewGuid();
    private readonly Dictionary<ulong, HashSet<ulong>> imagesPerAlt = [];
    private readonly Dictionary<ulong, HashSet<ulong>> altsPerImage = [];

    public Task<Guid> Add(PairCountBatch batch)
    {
        if (batch.AltKeys.Length != batch.ImagesByAlt.Length || batch.ImageKeys.Length != batch.AltsByImage.Length)
            throw new ArgumentException("Each key in a pair count batch needs exactly one value.", nameof(batch));
        var partition = Partition;
        for (var i = 0; i < batch.AltKeys.Length; i++)
            Add(imagesPerAlt, Owned(batch.AltKeys[i], partition), batch.ImagesByAlt[i], batch.SaturateImagesPerAlt);
        for (var i = 0; i < batch.ImageKeys.Length; i++)
            Add(altsPerImage, Owned(batch.ImageKeys[i], partition), batch.AltsByImage[i], batch.SaturateAltsPerImage);
        return Task.FromResult(activation);
    }

    public Task<PairCountSnapshot> Get(ulong[] altTextKeys, ulong[] imageKeys)
    {
        var images = new int[altTextKeys.Length];
        for (var i = 0; i < altTextKeys.Length; i++) images[i] = imagesPerAlt.TryGetValue(altTextKeys[i], out var s) ? s.Count : 0;
        var alts = new int[imageKeys.Length];
        for (var i = 0; i < imageKeys.Length; i++) alts[i] = altsPerImage.TryGetValue(imageKeys[i], out var s) ? s.Count : 0;
        return Task.FromResult(new PairCountSnapshot(activation, images, alts));
    }

    public Task Release()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private int Partition
    {
        get
        {
            var key = this.GetPrimaryKeyString();
            return Convert.ToInt32(key[(key.LastIndexOf('/') + 1)..], 16);
        }
    }

    /// <summary>A key sent to the wrong partition would be counted where no lookup finds it: refuse it loudly.</summary>
    private static ulong Owned(ulong key, int partition) =>
        PairCountPartitions.Of(key) == partition ? key
        : throw new ArgumentException($"Key {key:x16} belongs to partition {PairCountPartitions.Of(key):x2}, not {partition:x2}.");

    private static void Add(Dictionary<ulong, HashSet<ulong>> map, ulong key, ulong value, int saturateAt)
    {
        if (!map.TryGetValue(key, out var set)) map[key] = set = new HashSet<ulong>(1);
        if (set.Count < saturateAt) set.Add(value);
    }
}
