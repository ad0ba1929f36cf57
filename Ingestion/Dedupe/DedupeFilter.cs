using Platform.Ingestion.Images;

namespace Platform.Ingestion.Dedupe;

/// <summary>
/// Decides, sample by sample and in a fixed order, whether a sample duplicates something already kept.
/// Every key it adds also goes into the caller's <see cref="DedupeDelta"/>, which is persisted with the shard.
/// No executor calls it: both decide with <see cref="FirstClaimDedupe"/>, which refuses the caption, near-caption and
/// evaluation-image checks that only this filter has; it is kept for those and as the rule stated one sample at a time.
/// </summary>
public sealed class DedupeFilter(
    DedupeOptions options,
    IExactKeySet urls,
    IExactKeySet images,
    INearDuplicateImageIndex? nearImages,
    INearDuplicateTextIndex? nearTexts,
    IKeyCounter captionCounts,
    EvaluationImageSet? evaluation)
{
    private readonly MinHasher _minHasher = new();

    public DedupeOptions Options { get; } = options;

    public static DedupeFilter CreateInProcess(DedupeOptions options, ImageProcessor? processor = null) => new(
        options,
        new InProcessExactKeySet(),
        new InProcessExactKeySet(),
        options.MaxImageHammingDistance is { } d ? new LshHammingIndex(d) : null,
        options.TextJaccardThreshold is { } t ? new MinHashLshIndex(t) : null,
        new InProcessKeyCounter(),
        options.EvaluationImagesFolder is { } folder
            ? EvaluationImageSet.Load(folder, options.EvaluationHammingDistance, processor)
            : null);

    /// <summary>Claims the URL before download; returns a reason when it was attempted before.</summary>
    public async ValueTask<string?> ClaimUrlAsync(string url, DedupeDelta delta, CancellationToken cancellationToken = default)
    {
        if (!Options.ByUrl) return null;
        var key = DedupeKeys.OfUrl(url);
        if (!await urls.TryAddAsync(key, cancellationToken)) return DedupeReasons.DuplicateUrl;
        delta.UrlKeys.Add(key);
        return null;
    }

    /// <summary>
    /// Checks a decoded image and its caption. Every image that gets this far is recorded, kept or not, so a
    /// later copy of a dropped near duplicate is dropped too: the decision for a sample depends only on the
    /// samples before it in input order, the rule <see cref="FirstClaimDedupe"/> applies to parallel shards.
    /// Captions count only kept samples.
    /// </summary>
    public async ValueTask<string?> AdmitAsync(ProcessedImage image, string caption, DedupeDelta delta,
        CancellationToken cancellationToken = default)
    {
        if (evaluation is not null && evaluation.IsNear(image.PerceptualHash)) return DedupeReasons.EvaluationNearDuplicate;
        var imageKey = DedupeKeys.OfSha256Hex(image.Sha256);
        if (Options.ByImageBytes)
        {
            // The same bytes were recorded with the same perceptual hash already.
            if (!await images.TryAddAsync(imageKey, cancellationToken)) return DedupeReasons.DuplicateImageBytes;
            delta.ImageKeys.Add(imageKey);
        }
        if (nearImages is not null)
        {
            var near = await nearImages.FindAsync(image.PerceptualHash, cancellationToken) is not null;
            await nearImages.AddAsync(image.PerceptualHash, cancellationToken);
            delta.ImageHashes.Add(image.PerceptualHash);
            if (near) return DedupeReasons.NearDuplicateImage;
        }
        var captionKey = DedupeKeys.OfCaption(caption);
        if (Options.MaxImagesPerCaption is { } maxPerCaption && await captionCounts.GetAsync(captionKey, cancellationToken) >= maxPerCaption)
            return DedupeReasons.BoilerplateCaption;
        ulong[]? signature = null;
        if (nearTexts is not null)
        {
            signature = _minHasher.Signature(caption);
            if (await nearTexts.ContainsNearAsync(signature, cancellationToken)) return DedupeReasons.NearDuplicateText;
        }

        if (nearTexts is not null && signature is not null)
        {
            await nearTexts.AddAsync(signature, cancellationToken);
            delta.TextSignatures.Add(signature);
        }
        if (Options.MaxImagesPerCaption is not null)
        {
            await captionCounts.IncrementAsync(captionKey, 1, cancellationToken);
            delta.CaptionKeys.Add(captionKey);
        }
        return null;
    }

    /// <summary>Replays a committed shard's additions (used when opening an existing dataset).</summary>
    public async ValueTask ApplyAsync(DedupeDelta delta, CancellationToken cancellationToken = default)
    {
        foreach (var key in delta.UrlKeys) await urls.TryAddAsync(key, cancellationToken);
        foreach (var key in delta.ImageKeys) await images.TryAddAsync(key, cancellationToken);
        if (nearImages is not null)
            foreach (var hash in delta.ImageHashes) await nearImages.AddAsync(hash, cancellationToken);
        if (nearTexts is not null)
            foreach (var signature in delta.TextSignatures) await nearTexts.AddAsync(signature, cancellationToken);
        foreach (var key in delta.CaptionKeys) await captionCounts.IncrementAsync(key, 1, cancellationToken);
    }
}
