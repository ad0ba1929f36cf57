using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Platform.Datasets;
using SkiaSharp;

namespace Platform.Tests.Training;

/// <summary>Datasets for the training commands' tests: committed to a manifest the way the dataset grain commits them.</summary>
internal static class TrainCommandDatasets
{
    public const string ManifestContainer = "datasets";

    /// <summary>A dataset of one shard of <paramref name="samples"/> small, decodable image-caption pairs in <paramref name="folder"/>.</summary>
    public static async Task WriteAsync(BlobServiceClient blobs, string name, string folder, int samples, CancellationToken cancellationToken)
    {
        var tar = await WriteShardAsync(folder, samples, cancellationToken);
        await new DatasetManifestStore(blobs, ManifestContainer).AppendAsync(name, new ManifestTail(0, 0),
            [new ManifestShard("00000", samples, new FileInfo(tar).Length, "test", tar, DateTimeOffset.UtcNow)], cancellationToken);
    }

    /// <summary>One shard of <paramref name="samples"/> small, decodable image-caption pairs in <paramref name="folder"/>; its path.</summary>
    public static async Task<string> WriteShardAsync(string folder, int samples, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var tar = Path.Combine(folder, DatasetLayout.TarName(0));
        await using (var stream = File.Create(tar))
        await using (var writer = new WebDatasetShardWriter(stream))
        {
            string[] things = ["red square", "blue circle", "green triangle", "yellow star"];
            for (var i = 0; i < samples; i++)
            {
                var key = $"{DatasetLayout.ShardName(0)}{i:D4}";
                var caption = $"a {things[i % things.Length]} on a grey background number {i}";
                await writer.WriteSampleAsync(new SampleRecord { Key = key, Caption = caption, Status = SampleStatus.Success, Width = 64, Height = 64 },
                    Jpeg(new SKColor((byte)(40 * i), (byte)(200 - 20 * i), 90)), cancellationToken);
            }
        }
        return tar;
    }

    /// <summary>A dataset whose manifest exists but lists no shard.</summary>
    public static async Task WriteEmptyAsync(BlobServiceClient blobs, string name, CancellationToken cancellationToken)
    {
        var container = blobs.GetBlobContainerClient(ManifestContainer);
        await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await container.GetAppendBlobClient(DatasetManifestStore.SegmentName(name, 0)).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
    }

    private static byte[] Jpeg(SKColor color)
    {
        using var bitmap = new SKBitmap(64, 64);
        bitmap.Erase(color);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }
}
