namespace Platform.Grains.Ingestion;

/// <summary>
/// One partition of the run-wide (image URL, alt text) co-occurrence counts. Keys are the 64-bit
/// hashes the in-process counter uses; a key lives in the partition named by its top byte, so the
/// counts of one run are spread over <see cref="PairCountPartitions.Count"/> grains (and silos).
/// The grain keeps distinct sets in memory only: adding the same pair twice changes nothing, so a
/// batch may be re-sent, and a caller detects a lost partition by its activation id changing.
/// Key: "{scope}/{partition:x2}" (see <see cref="PairCountPartitions.Key"/>).
/// </summary>
public interface IPairCountGrain : IGrainWithStringKey
{
    /// <summary>Adds a batch of co-occurrences whose keys all belong to this partition; returns this activation's id.</summary>
    Task<Guid> Add(PairCountBatch batch);

    /// <summary>Distinct counts for many keys at once (0 for unseen keys), with this activation's id.</summary>
    Task<PairCountSnapshot> Get(ulong[] altTextKeys, ulong[] imageKeys);

    /// <summary>Drops the counts once the run no longer needs them.</summary>
    Task Release();
}

/// <summary>
/// Co-occurrences for one partition: <c>ImagesByAlt[i]</c> is an image seen with alt text <c>AltKeys[i]</c>,
/// <c>AltsByImage[j]</c> an alt text seen with image <c>ImageKeys[j]</c>. Sets saturate at the limits plus one,
/// since only "more than the limit" matters.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PairCountBatch(
    [property: Id(0)] ulong[] AltKeys,
    [property: Id(1)] ulong[] ImagesByAlt,
    [property: Id(2)] ulong[] ImageKeys,
    [property: Id(3)] ulong[] AltsByImage,
    [property: Id(4)] int SaturateImagesPerAlt,
    [property: Id(5)] int SaturateAltsPerImage);

[GenerateSerializer, Immutable]
public sealed record PairCountSnapshot(
    [property: Id(0)] Guid Activation,
    [property: Id(1)] int[] ImagesPerAlt,
    [property: Id(2)] int[] AltsPerImage);

public static class PairCountPartitions
{
    /// <summary>256 partitions: the top byte of the key hash.</summary>
    public const int Count = 256;

    public static int Of(ulong keyHash) => (int)(keyHash >> 56);

    public static string Key(string scope, int partition) => $"{scope}/{partition:x2}";
}
