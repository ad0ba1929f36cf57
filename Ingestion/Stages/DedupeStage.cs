using System.Globalization;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Pipeline;
using Platform.Datasets;

namespace Platform.Ingestion.Stages;

/// <summary>
/// Dedupe decided once for every sample of a job, the earliest sample in input order winning (<see cref="FirstClaimDedupe"/>), over
/// claim sets the executor supplies (in memory, or partitioned claim grains under a scope of the attempt). A claim set that loses
/// claims throws, failing the attempt; the next attempt claims again under a fresh scope from the same files.
/// </summary>
public static class DedupeStage
{
    /// <summary>
    /// Before any image is fetched: the positions of kept pairs whose URL an earlier pair has (URL dedupe needs only the candidates),
    /// so shards fetch each URL once job-wide. Written aside and moved into <see cref="IngestJobLayout.UrlDuplicates"/>.
    /// </summary>
    /// <param name="attempt">The attempt writing the file, which names its partial file.</param>
    public static async Task FindUrlDuplicatesAsync(IngestJobLayout layout, int attempt, bool dedupeByUrl, IKeyClaims urls, CancellationToken cancellationToken)
    {
        var path = layout.UrlDuplicates;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var keys = new List<UInt128>();
        if (dedupeByUrl)
            foreach (var pair in PairCandidate.ReadJsonLines(layout.Candidates))
                keys.Add(DedupeKeys.OfUrl(pair.ImageUrl));
        var partial = path + $".{attempt}.partial";
        await using (var writer = new StreamWriter(partial) { NewLine = "\n" })
        {
            long first = 0;
            foreach (var batch in keys.Chunk(1 << 20))
            {
                // Claims of later batches cannot be earlier than a position of this one, so each batch is final once claimed.
                foreach (var i in await ClaimUrlsAsync(batch, first, urls, cancellationToken))
                    await writer.WriteLineAsync((first + i).ToString(CultureInfo.InvariantCulture));
                first += batch.Length;
            }
        }
        DurableFiles.Move(partial, path, overwrite: true);
    }

    /// <summary>
    /// Claims URL keys at consecutive positions from <paramref name="firstPosition"/> and returns, in order, the indices of those whose
    /// URL an earlier position claimed. Final for these positions once every earlier position has claimed.
    /// </summary>
    public static async Task<IReadOnlyList<int>> ClaimUrlsAsync(IReadOnlyList<UInt128> keys, long firstPosition, IKeyClaims urls,
        CancellationToken cancellationToken)
    {
        await urls.ClaimAsync([.. keys.Select((key, i) => new KeyClaim(key, firstPosition + i))], cancellationToken);
        var firstClaims = await urls.FirstClaimsAsync(keys, cancellationToken);
        return [.. Enumerable.Range(0, keys.Count).Where(i => firstClaims[i] < firstPosition + i)];
    }

    /// <summary>
    /// Claims the samples of every fetched shard and writes one verdict file per shard for dedupe attempt <paramref name="attempt"/>
    /// (<see cref="IngestJobLayout.VerdictsFile"/>). Nothing is fetched again.
    /// </summary>
    /// <param name="fetchDirectories">The accepted fetch attempt's folder of every shard, in shard order.</param>
    public static async Task DecideAsync(IngestJobLayout layout, int attempt, IReadOnlyList<string> fetchDirectories, int samplesPerShard,
        DedupeOptions options, IKeyClaims urls, IKeyClaims images, INearDuplicateClaims? nearImages, CancellationToken cancellationToken)
    {
        var subjects = new List<DedupeSubject>();
        var counts = new int[fetchDirectories.Count];
        for (var shard = 0; shard < fetchDirectories.Count; shard++)
        {
            var samples = FetchShardStage.ReadSamples(fetchDirectories[shard]);
            counts[shard] = samples.Count;
            subjects.AddRange(FetchShardStage.Subjects(samples, (long)shard * samplesPerShard));
        }
        var verdicts = await new FirstClaimDedupe(options, urls, images, nearImages).DecideAsync(subjects, cancellationToken);
        Directory.CreateDirectory(layout.VerdictsDirectory(attempt));
        var next = 0;
        for (var shard = 0; shard < counts.Length; shard++)
        {
            await File.WriteAllLinesAsync(layout.VerdictsFile(attempt, shard), verdicts.Skip(next).Take(counts[shard]).Select(v => v ?? ""), cancellationToken);
            next += counts[shard];
        }
    }

    /// <summary>
    /// Decides one fetched shard against the claims of every sample before it (one process goes shard by shard, so those are the earlier
    /// shards' claims and, on a rerun, the committed shards'), and leaves the shard's own claims for the shards after it.
    /// </summary>
    /// <returns>Per sample, its dedupe reason or null, as a verdict file holds them.</returns>
    public static Task<string?[]> DecideShardAsync(IReadOnlyList<AttemptedSample> samples, long firstPosition, DedupeOptions options, IKeyClaims urls,
        IKeyClaims images, INearDuplicateClaims? nearImages, CancellationToken cancellationToken) =>
        new FirstClaimDedupe(options, urls, images, nearImages).DecideAsync([.. FetchShardStage.Subjects(samples, firstPosition)], cancellationToken);

    /// <summary>Reads back a verdict file: per sample, its dedupe reason or null.</summary>
    public static async Task<IReadOnlyList<string?>> ReadVerdictsAsync(string verdictsFile, CancellationToken cancellationToken) =>
        (await File.ReadAllLinesAsync(verdictsFile, cancellationToken)).Select(line => line.Length == 0 ? null : line).ToList();
}
