using Microsoft.AspNetCore.Http;

namespace Platform.Dashboard.Services;

/// <summary>
/// One image of the sample grid: the byte range of a committed shard's tar that the grid read from the tar's headers.
/// Only a range that is exactly an image file of the tar is served (see <see cref="ShardSamples.IsImageEntry"/>).
/// </summary>
public static class SampleImageEndpoint
{
    public static string Url(string dataset, string shardId, GridSample sample) =>
        $"/datasets/{Uri.EscapeDataString(dataset)}/shards/{Uri.EscapeDataString(shardId)}/image?offset={sample.ImageOffset}&length={sample.ImageBytes}";

    public static async Task<IResult> ServeAsync(string dataset, string shard, long offset, long length, DatasetCatalog catalog, CancellationToken cancellationToken)
    {
        var entry = await catalog.Dataset(dataset).GetShard(shard);
        if (entry is null) return Results.NotFound();
        if (offset + length > entry.SizeBytes) return Results.BadRequest();
        await using var tar = catalog.Open(entry).OpenRead();
        if (!ShardSamples.IsImageEntry(tar, offset, length)) return Results.BadRequest();
        tar.Position = offset;
        var bytes = new byte[length];
        await tar.ReadExactlyAsync(bytes, cancellationToken);
        // A committed shard never changes: its images may be cached for as long as the browser likes.
        return Results.File(bytes, ContentType(bytes), lastModified: entry.CommittedAt, entityTag: null);
    }

    private static string ContentType(byte[] bytes) => bytes switch
    {
        [0x89, (byte)'P', (byte)'N', (byte)'G', ..] => "image/png",
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => "image/webp",
        _ => "image/jpeg",
    };
}
