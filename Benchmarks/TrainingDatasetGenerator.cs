using System.Security.Cryptography;
using Platform.Datasets;
using Platform.Grains.Datasets;

namespace Platform.Benchmarks;

/// <summary>
/// A small captioned-picture dataset for training benchmarks and tests: WebDataset shards written straight through the
/// dataset library (no ingestion run), then committed to a dataset's manifest so that trainers find it by name the way
/// they find an ingested one. Deterministic for a seed, so two runs on it see the same batches.
/// </summary>
public static class TrainingDatasetGenerator
{
    /// <summary>Writes <paramref name="shards"/> tars of <paramref name="samplesPerShard"/> samples each under <paramref name="folder"/>.</summary>
    /// <returns>The manifest entries of the shards, in shard order, locating each by its absolute path.</returns>
    public static async Task<IReadOnlyList<ShardEntry>> WriteAsync(string folder, int shards, int samplesPerShard, int seed, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerShard, 1);
        folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        var words = ImageDumpGenerator.Words;
        var entries = new List<ShardEntry>();
        for (var shard = 0; shard < shards; shard++)
        {
            var path = Path.Combine(folder, DatasetLayout.TarName(shard));
            await using (var file = File.Create(path))
            await using (var writer = new WebDatasetShardWriter(file))
            {
                for (var i = 0; i < samplesPerShard; i++)
                {
                    using var picture = ImageDumpGenerator.Picture(random);
                    var caption = "A photo of the " + string.Join(' ', Enumerable.Range(0, 4 + random.Next(5)).Select(_ => words[random.Next(words.Length)]));
                    var key = $"{DatasetLayout.ShardName(shard)}{i:D4}";
                    var sample = new SampleRecord { Key = key, Caption = caption, Url = $"http://pictures.example/{key}.jpg", Status = SampleStatus.Success };
                    await writer.WriteSampleAsync(sample, ImageDumpGenerator.Encode(picture, 90), cancellationToken);
                }
            }
            var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
            entries.Add(new ShardEntry(DatasetLayout.ShardName(shard), samplesPerShard, bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes)), path,
                DateTimeOffset.UnixEpoch));
        }
        return entries;
    }

    /// <summary>Commits the shards to <paramref name="dataset"/> through its dataset grain; committing them again changes nothing.</summary>
    public static async Task CommitAsync(IGrainFactory grains, string dataset, IReadOnlyList<ShardEntry> shards)
    {
        var result = await grains.GetGrain<IDatasetGrain>(dataset).AddShards(shards);
        if (result.ConflictingShardIds.Count > 0)
            throw new InvalidOperationException($"Dataset '{dataset}' already holds other shards under the ids {string.Join(", ", result.ConflictingShardIds)}.");
    }
}
