namespace Platform.Ingestion.Dedupe;

/// <summary>
/// One attempted sample as dedupe sees it: its position in the job's input order, its URL and, when its image
/// was fetched and passed the image checks, the image's fingerprints.
/// </summary>
public readonly record struct DedupeSubject(long Position, string Url, string? Sha256Hex, ulong PerceptualHash)
{
    public bool HasImage => Sha256Hex is not null;
}

/// <summary>
/// The dedupe rule of a job, decided in bulk and independent of the order samples were attempted in:
/// <list type="bullet">
/// <item>a sample whose URL an earlier sample (in input order) has is a <see cref="DedupeReasons.DuplicateUrl"/>;</item>
/// <item>the others whose image was fetched and passed the checks are <em>eligible</em>;</item>
/// <item>an eligible sample is a <see cref="DedupeReasons.DuplicateImageBytes"/> when an earlier eligible one has the
/// same SHA-256, else a <see cref="DedupeReasons.NearDuplicateImage"/> when an earlier eligible one is within the
/// Hamming distance.</item>
/// </list>
/// An earlier sample counts even when it was itself dropped as a duplicate, which is what makes the rule
/// decidable from claims alone, and lets one process decide shard by shard what the cluster decides at once.
/// Three passes, each over the subjects in batches of <see cref="BatchSize"/>: claim URLs; claim the
/// eligible images; look the claims up.
/// </summary>
public sealed class FirstClaimDedupe(DedupeOptions options, IKeyClaims urls, IKeyClaims images, INearDuplicateClaims? nearImages, int batchSize = 1 << 20)
{
    public int BatchSize { get; } = batchSize > 0 ? batchSize : throw new ArgumentOutOfRangeException(nameof(batchSize));

    /// <summary>Per subject, its dedupe reason, or null when it is not a duplicate (kept if it has an image).</summary>
    public async Task<string?[]> DecideAsync(IReadOnlyList<DedupeSubject> subjects, CancellationToken cancellationToken = default)
    {
        ThrowIfUnsupported(options);
        var verdicts = new string?[subjects.Count];
        var urlKeys = subjects.Select(s => DedupeKeys.OfUrl(s.Url)).ToArray();
        if (options.ByUrl)
        {
            foreach (var batch in Batches(subjects.Count))
                await urls.ClaimAsync([.. batch.Select(i => new KeyClaim(urlKeys[i], subjects[i].Position))], cancellationToken);
            foreach (var batch in Batches(subjects.Count))
            {
                var first = await urls.FirstClaimsAsync([.. batch.Select(i => urlKeys[i])], cancellationToken);
                for (var j = 0; j < batch.Length; j++)
                    if (first[j] < subjects[batch[j]].Position) verdicts[batch[j]] = DedupeReasons.DuplicateUrl;
            }
        }

        var eligible = Enumerable.Range(0, subjects.Count).Where(i => verdicts[i] is null && subjects[i].HasImage).ToArray();
        var imageKeys = new UInt128[subjects.Count];
        foreach (var i in eligible) imageKeys[i] = DedupeKeys.OfSha256Hex(subjects[i].Sha256Hex!);
        foreach (var batch in Batches(eligible.Length).Select(b => b.Select(j => eligible[j]).ToArray()))
        {
            if (options.ByImageBytes) await images.ClaimAsync([.. batch.Select(i => new KeyClaim(imageKeys[i], subjects[i].Position))], cancellationToken);
            if (nearImages is not null)
                await nearImages.ClaimAsync([.. batch.Select(i => new HashClaim(subjects[i].PerceptualHash, subjects[i].Position))], cancellationToken);
        }
        foreach (var batch in Batches(eligible.Length).Select(b => b.Select(j => eligible[j]).ToArray()))
        {
            var firstBytes = options.ByImageBytes ? await images.FirstClaimsAsync([.. batch.Select(i => imageKeys[i])], cancellationToken) : null;
            var firstNear = nearImages is null ? null : await nearImages.EarliestNearAsync([.. batch.Select(i => subjects[i].PerceptualHash)], cancellationToken);
            for (var j = 0; j < batch.Length; j++)
            {
                var position = subjects[batch[j]].Position;
                if (firstBytes is not null && firstBytes[j] < position) verdicts[batch[j]] = DedupeReasons.DuplicateImageBytes;
                else if (firstNear is not null && firstNear[j] < position) verdicts[batch[j]] = DedupeReasons.NearDuplicateImage;
            }
        }
        return verdicts;
    }

    /// <summary>Lets an executor refuse such options before it fetches anything rather than at its first decision.</summary>
    public static void ThrowIfUnsupported(DedupeOptions options)
    {
        if (options.MaxImagesPerCaption is not null || options.TextJaccardThreshold is not null || options.EvaluationImagesFolder is not null)
            throw new NotSupportedException("Caption counts, near-duplicate captions and evaluation images are decided one sample at a time (DedupeFilter) only.");
    }

    private IEnumerable<int[]> Batches(int count) => Enumerable.Range(0, count).Chunk(BatchSize);
}
