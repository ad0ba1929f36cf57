namespace Platform.Ingestion.Dedupe;

/// <summary>Which duplicates are dropped. Defaults: exact URL and bytes, near-duplicate images; text off.</summary>
public sealed record DedupeOptions
{
    /// <summary>Drop a sample whose URL was already attempted in this dataset.</summary>
    public bool ByUrl { get; init; } = true;

    /// <summary>Drop an image whose original bytes (SHA-256) were already stored.</summary>
    public bool ByImageBytes { get; init; } = true;

    /// <summary>
    /// Largest pHash Hamming distance (of 64 bits) that counts as the same picture; null disables near-duplicate
    /// image dedupe. 8 catches re-encodes, rescales and crops of a few percent in our tests while distinct
    /// pictures sit near 32.
    /// </summary>
    public int? MaxImageHammingDistance { get; init; } = 8;

    /// <summary>Drop captions whose MinHash Jaccard estimate with a stored caption reaches this; null disables.</summary>
    public double? TextJaccardThreshold { get; init; }

    /// <summary>
    /// Keep at most this many images per exact caption (after trimming and lower-casing); later ones are dropped
    /// as boilerplate ("logo", "click here"). ALIGN drops alt texts shared by more than 10 images; this is its
    /// streaming form, which keeps the first ones. Null disables.
    /// </summary>
    public int? MaxImagesPerCaption { get; init; }

    /// <summary>Folder of evaluation images whose near duplicates are removed (decontamination); null disables.</summary>
    public string? EvaluationImagesFolder { get; init; }

    /// <summary>Hamming distance to an evaluation image that counts as contamination.</summary>
    public int EvaluationHammingDistance { get; init; } = 8;
}
