namespace Platform.Ingestion.Filters;

/// <summary>ALIGN's frequency filters (defaults: an alt text on more than 10 images, an image with more than 1000 alt texts).</summary>
public sealed class FrequencyFilterOptions
{
    /// <summary>Alt texts shared by more distinct images than this are boilerplate ("Next", "logo"); ALIGN: 10.</summary>
    public int MaxImagesPerAltText { get; init; } = 10;
    /// <summary>Images associated with more distinct alt texts than this are generic (spacers, icons); ALIGN: 1000.</summary>
    public int MaxAltTextsPerImage { get; init; } = 1000;
}

/// <summary>
/// Distinct co-occurrence counts over the whole input, needed before any pair can be judged.
/// The in-process implementation holds them in memory; a partitioned one (by hash of the key)
/// can replace it when the input is spread over machines. Counts may saturate just above the
/// thresholds, since only "more than the limit" matters.
/// </summary>
public interface IPairFrequencyCounter
{
    void Observe(string imageUrl, string altText);
    int DistinctImagesFor(string altText);
    int DistinctAltTextsFor(string imageUrl);
}

/// <summary>
/// Counts held elsewhere (partitioned over machines): observations travel in batches and are complete once flushed, and
/// the final counts of a chunk of pairs are fetched in a few calls before they are asked for.
/// </summary>
public interface IBatchedPairFrequencyCounter : IPairFrequencyCounter
{
    Task FlushAsync();

    /// <summary>Fetches the final counts of these pairs; lookups answer for them until the next prefetch.</summary>
    Task PrefetchAsync(IEnumerable<(string ImageUrl, string AltText)> pairs);
}

public sealed class InProcessPairFrequencyCounter(FrequencyFilterOptions options) : IPairFrequencyCounter
{
    // Almost every key is seen with a single value; a set is allocated only for the second one,
    // which keeps millions of keys from becoming millions of objects for the GC to trace.
    private struct Distinct
    {
        public ulong First;
        public HashSet<ulong>? More;
        public readonly int Count => More is null ? 1 : More.Count;
    }

    private readonly Dictionary<ulong, Distinct> imagesPerAlt = [];
    private readonly Dictionary<ulong, Distinct> altsPerImage = [];

    public void Observe(string imageUrl, string altText)
    {
        var image = Hash(imageUrl);
        var alt = HashNormalized(altText);
        Add(imagesPerAlt, alt, image, options.MaxImagesPerAltText + 1);
        Add(altsPerImage, image, alt, options.MaxAltTextsPerImage + 1);
    }

    public int DistinctImagesFor(string altText) => imagesPerAlt.TryGetValue(HashNormalized(altText), out var d) ? d.Count : 0;

    public int DistinctAltTextsFor(string imageUrl) => altsPerImage.TryGetValue(Hash(imageUrl), out var d) ? d.Count : 0;

    private static void Add(Dictionary<ulong, Distinct> map, ulong key, ulong value, int saturateAt)
    {
        ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(map, key, out var exists);
        if (!exists)
        {
            entry.First = value;
            return;
        }
        if (entry.More is null)
        {
            if (entry.First == value) return;
            entry.More = [entry.First];
        }
        if (entry.More.Count < saturateAt) entry.More.Add(value);
    }

    /// <summary>The hash of the alt text trimmed and in lower case, so texts differing only in case or outer spaces count as one.</summary>
    public static ulong HashNormalized(string altText)
    {
        var h = 14695981039346656037UL;
        foreach (var raw in altText.AsSpan().Trim())
        {
            var c = char.ToLowerInvariant(raw);
            h = (h ^ (byte)c) * 1099511628211UL;
            h = (h ^ (byte)(c >> 8)) * 1099511628211UL;
        }
        return h;
    }

    /// <summary>FNV-1a, stable across processes so a distributed counter can partition by it.</summary>
    public static ulong Hash(string s)
    {
        var h = 14695981039346656037UL;
        foreach (var c in s)
        {
            h = (h ^ (byte)c) * 1099511628211UL;
            h = (h ^ (byte)(c >> 8)) * 1099511628211UL;
        }
        return h;
    }
}

public static class FrequencyFilter
{
    /// <summary>The reason to reject a pair given the final counts, or null to keep it.</summary>
    public static string? Check(IPairFrequencyCounter counts, FrequencyFilterOptions options, string imageUrl, string altText)
    {
        if (counts.DistinctImagesFor(altText) > options.MaxImagesPerAltText) return "alt_shared_by_too_many_images";
        if (counts.DistinctAltTextsFor(imageUrl) > options.MaxAltTextsPerImage) return "image_has_too_many_alts";
        return null;
    }
}
