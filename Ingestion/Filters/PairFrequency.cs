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

public sealed class InProcessPairFrequencyCounter(FrequencyFilterOptions options) : IPairFrequencyCounter
{
    private readonly Dictionary<ulong, HashSet<ulong>> imagesPerAlt = [];
    private readonly Dictionary<ulong, HashSet<ulong>> altsPerImage = [];

    public void Observe(string imageUrl, string altText)
    {
        var image = Hash(imageUrl);
        var alt = Hash(Normalize(altText));
        Add(imagesPerAlt, alt, image, options.MaxImagesPerAltText + 1);
        Add(altsPerImage, image, alt, options.MaxAltTextsPerImage + 1);
    }

    public int DistinctImagesFor(string altText) => imagesPerAlt.TryGetValue(Hash(Normalize(altText)), out var s) ? s.Count : 0;

    public int DistinctAltTextsFor(string imageUrl) => altsPerImage.TryGetValue(Hash(imageUrl), out var s) ? s.Count : 0;

    private static void Add(Dictionary<ulong, HashSet<ulong>> map, ulong key, ulong value, int saturateAt)
    {
        if (!map.TryGetValue(key, out var set)) map[key] = set = new HashSet<ulong>(1);
        if (set.Count < saturateAt) set.Add(value);
    }

    /// <summary>Alt texts that differ only in case or spacing count as one text.</summary>
    public static string Normalize(string altText) => altText.Trim().ToLowerInvariant();

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
