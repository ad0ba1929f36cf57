using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace Platform.Datasets;

/// <summary>
/// The full shard list of each dataset, kept in blob storage because table-backed grain state is
/// capped near 1 MB. Each dataset's manifest is a series of append blobs
/// (`{dataset}/manifest/{segment:D6}.jsonl`, one JSON line per shard): an add costs one append of
/// its own lines, never a rewrite of the list. A retried append can leave a line twice; readers
/// keep the first occurrence of each shard id. The dataset grain is the only writer; training reads
/// it directly, so both go through this one definition of the format.
/// </summary>
public sealed class DatasetManifestStore(BlobServiceClient blobs, string containerName)
{
    /// <summary>Lines per segment; an append blob takes at most 50,000 appends, so segments roll over well before that.</summary>
    public const int LinesPerSegment = 10_000;

    /// <summary>The storage account the manifests live in: the platform's, which blob locations given to it must be in.</summary>
    public BlobServiceClient Account => blobs;

    /// <summary>Bytes per append: below every service version's block limit.</summary>
    private const int MaxAppendBytes = 1 << 20;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(containerName);
    private bool _containerExists;

    public async Task<ManifestContents> ReadAsync(string dataset, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken);
        var names = new List<string>();
        var prefix = SegmentPrefix(dataset);
        await foreach (var item in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken))
            // Only this dataset's own segments: a blob deeper under the prefix belongs to another name
            // (written before names were kept from nesting, e.g. "a/manifest/manifest/..." of "a/manifest").
            if (item.Name.IndexOf('/', prefix.Length) < 0) names.Add(item.Name);
        names.Sort(StringComparer.Ordinal);

        var entries = new List<ManifestShard>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var linesInLastSegment = 0;
        foreach (var name in names)
        {
            var content = await _container.GetBlobClient(name).DownloadContentAsync(cancellationToken);
            linesInLastSegment = 0;
            foreach (var line in content.Value.Content.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                linesInLastSegment++;
                var entry = JsonSerializer.Deserialize<ManifestShard>(line, Json)
                            ?? throw new InvalidDataException($"Manifest blob {name} holds a null line.");
                if (seen.Add(entry.ShardId)) entries.Add(entry);
            }
        }
        return new ManifestContents(entries, Math.Max(0, names.Count - 1), linesInLastSegment);
    }

    /// <summary>The shard a manifest line points at, read with this store's storage account when it is a blob.</summary>
    public DatasetShard Resolve(ManifestShard shard) => DatasetShard.AtLocation(shard.Location, blobs);

    /// <summary>Appends <paramref name="shards"/> after the position described by <paramref name="tail"/> and returns the new tail.</summary>
    public async Task<ManifestTail> AppendAsync(string dataset, ManifestTail tail, IReadOnlyList<ManifestShard> shards, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken);
        var index = 0;
        while (index < shards.Count)
        {
            if (tail.LinesInSegment >= LinesPerSegment) tail = new ManifestTail(tail.Segment + 1, 0);
            var blob = _container.GetAppendBlobClient(SegmentName(dataset, tail.Segment));
            await blob.CreateIfNotExistsAsync(cancellationToken: cancellationToken);

            var chunk = new StringBuilder();
            var lines = 0;
            while (index < shards.Count && tail.LinesInSegment + lines < LinesPerSegment)
            {
                var line = JsonSerializer.Serialize(shards[index], Json) + "\n";
                if (lines > 0 && chunk.Length + line.Length > MaxAppendBytes) break;
                chunk.Append(line);
                lines++;
                index++;
            }
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(chunk.ToString()));
            await blob.AppendBlockAsync(stream, cancellationToken: cancellationToken);
            tail = tail with { LinesInSegment = tail.LinesInSegment + lines };
        }
        return tail;
    }

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (_containerExists) return;
        try
        {
            await _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            // Another silo created it at the same moment.
        }
        _containerExists = true;
    }

    public static string SegmentPrefix(string dataset) => $"{dataset}/manifest/";

    public static string SegmentName(string dataset, int segment) => $"{SegmentPrefix(dataset)}{segment:D6}.jsonl";
}

/// <summary>
/// One line of a manifest: a committed shard. <see cref="Checksum"/> is the sha256 (hex) of the shard's tar;
/// <see cref="Location"/> is where the tar is: its absolute path in a dataset folder, or its blob's URL.
/// </summary>
public sealed record ManifestShard(string ShardId, long SampleCount, long SizeBytes, string Checksum, string Location, DateTimeOffset CommittedAt);

/// <param name="Entries">The committed shards in manifest order: the order they were committed in.</param>
public sealed record ManifestContents(List<ManifestShard> Entries, int LastSegment, int LinesInLastSegment)
{
    public ManifestTail Tail => new(LastSegment, LinesInLastSegment);
}

public sealed record ManifestTail(int Segment, int LinesInSegment);
