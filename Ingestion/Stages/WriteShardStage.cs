using System.Security.Cryptography;
using Parquet;
using Parquet.Serialization;
using Platform.Datasets;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Shards;

namespace Platform.Ingestion.Stages;

/// <summary>A shard as <see cref="WriteShardStage.RunAsync"/> published it: its stats, and its tar's size and sha256 (hex).</summary>
public sealed record WrittenShard(ShardStats Stats, long TarBytes, string TarSha256);

/// <summary>
/// The last step of a shard: its files (tar, parquet, dedupe delta, stats last) from a fetched attempt
/// (<see cref="FetchShardStage"/>) and the dedupe verdicts (<see cref="DedupeStage"/>). A redo after a worker died writes
/// the same bytes, so committing it again changes nothing.
/// </summary>
public static class WriteShardStage
{
    private static readonly ParquetOptions Parquet = new() { CompressionMethod = CompressionMethod.Snappy };

    /// <summary>
    /// Writes shard <paramref name="shard"/> (tar, parquet, dedupe delta, stats last) from a fetched attempt and the dedupe
    /// verdict of each of its samples, and returns its stats with the tar's size and sha256 (taken as it is written, so a
    /// shard in blob storage is not downloaded again to be committed).
    /// </summary>
    public static async Task<WrittenShard> RunAsync(IDatasetStore dataset, int shard, string directory, IReadOnlyList<string?> verdicts,
        DedupeOptions dedupe, CancellationToken cancellationToken)
    {
        var samples = FetchShardStage.ReadSamples(directory);
        if (samples.Count != verdicts.Count) throw new InvalidDataException($"{samples.Count} samples in {directory} but {verdicts.Count} verdicts");
        var name = DatasetLayout.ShardName(shard);
        var stats = new ShardStats { Shard = name };
        var rows = new List<SampleRecord>(samples.Count);
        var delta = new DedupeDelta();
        await using var images = new FileStream(new FetchFolder(directory).Images, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var tarFile = dataset.OpenPartial(DatasetLayout.TarName(shard));
        using var sha256 = SHA256.Create();
        long tarBytes;
        try
        {
            // A hash transform passes the bytes through unchanged; the tar reaches the store as written.
            await using (var hashed = new CryptoStream(tarFile, sha256, CryptoStreamMode.Write, leaveOpen: true))
            {
                await using (var tar = new WebDatasetShardWriter(hashed))
                    for (var i = 0; i < samples.Count; i++)
                    {
                        var sample = samples[i];
                        var verdict = verdicts[i];
                        var row = new SampleRecord { Url = sample.Url, Caption = sample.Caption, Key = $"{name}{i:D4}" };
                        if (verdict == DedupeReasons.DuplicateUrl) FetchShardStage.Mark(row, SampleStatus.Duplicate, verdict);
                        else
                        {
                            // The claims a rerun in one process seeds from the shard: the URL once claimed, and every checked image but an exact copy.
                            if (dedupe.ByUrl) delta.UrlKeys.Add(DedupeKeys.OfUrl(sample.Url));
                            if (!sample.HasImage) FetchShardStage.Mark(row, sample.Status!, sample.Reason!);
                            else
                            {
                                Describe(row, sample);
                                var exactCopy = dedupe.ByImageBytes && verdict == DedupeReasons.DuplicateImageBytes;
                                if (dedupe.ByImageBytes && !exactCopy) delta.ImageKeys.Add(DedupeKeys.OfSha256Hex(sample.Sha256!));
                                if (dedupe.MaxImageHammingDistance is not null && !exactCopy) delta.ImageHashes.Add(sample.PerceptualHash);
                                if (verdict is not null) FetchShardStage.Mark(row, SampleStatus.Duplicate, verdict);
                                else
                                {
                                    row.Status = SampleStatus.Success;
                                    var jpeg = new byte[sample.ImageLength];
                                    await RandomAccess.ReadAsync(images.SafeFileHandle, jpeg, sample.ImageOffset, cancellationToken);
                                    await tar.WriteSampleAsync(row, jpeg, cancellationToken);
                                }
                            }
                        }
                        rows.Add(row);
                        stats.Count(row);
                    }
                await hashed.FlushFinalBlockAsync(cancellationToken);
                // A partial file starts empty, so where it stands is what was written.
                tarBytes = tarFile.Position;
            }
            await dataset.PublishAsync(tarFile, DatasetLayout.TarName(shard), cancellationToken);
        }
        catch
        {
            await tarFile.DisposeAsync();
            throw;
        }
        await PublishShardRestAsync(dataset, shard, rows, delta, stats, cancellationToken);
        return new WrittenShard(stats, tarBytes, Convert.ToHexStringLower(sha256.Hash!));
    }

    /// <summary>After the shard's tar: its sample table, its dedupe additions and, last, the stats that mark it committed.</summary>
    private static async Task PublishShardRestAsync(IDatasetStore dataset, int shard, List<SampleRecord> rows, DedupeDelta delta, ShardStats stats,
        CancellationToken cancellationToken)
    {
        await dataset.WriteFileAsync(DatasetLayout.ParquetName(shard),
            s => ParquetSerializer.SerializeAsync(rows, s, Parquet, cancellationToken: cancellationToken), cancellationToken);
        await dataset.WriteFileAsync(DatasetLayout.DedupeName(shard), s =>
        {
            delta.WriteTo(s);
            return Task.CompletedTask;
        }, cancellationToken);
        // Last: its presence is what makes the shard count as done.
        await dataset.WriteFileAsync(DatasetLayout.StatsName(shard), s => s.WriteAsync(stats.ToJson(), cancellationToken).AsTask(),
            cancellationToken);
    }

    /// <summary>Where a manifest says a shard's tar is: its path in a folder, its blob's URL in a container.</summary>
    public static string TarLocation(IDatasetStore store, int shard) => store is LocalDatasetFolder folder
        ? Path.Combine(folder.Root, DatasetLayout.TarName(shard))
        : store.Location + DatasetLayout.TarName(shard);

    private static void Describe(SampleRecord row, AttemptedSample sample)
    {
        row.Width = sample.Width;
        row.Height = sample.Height;
        row.OriginalWidth = sample.OriginalWidth;
        row.OriginalHeight = sample.OriginalHeight;
        row.Sha256 = sample.Sha256;
        row.Phash = sample.PerceptualHash.ToString("x16");
    }
}
