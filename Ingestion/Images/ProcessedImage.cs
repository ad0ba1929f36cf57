namespace Platform.Ingestion.Images;

/// <summary>An accepted image: the stored JPEG and what was learnt about the original.</summary>
/// <param name="Jpeg">Re-encoded JPEG bytes to store.</param>
/// <param name="Width">Width of the stored image.</param>
/// <param name="Height">Height of the stored image.</param>
/// <param name="OriginalWidth">Width of the original after EXIF orientation.</param>
/// <param name="OriginalHeight">Height of the original after EXIF orientation.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the original bytes.</param>
/// <param name="PerceptualHash">64-bit DCT pHash of the decoded original (see <see cref="PerceptualHash"/>).</param>
/// <param name="SourceFormat">Format of the original (jpeg, png, webp, gif, bmp).</param>
public sealed record ProcessedImage(
    byte[] Jpeg, int Width, int Height, int OriginalWidth, int OriginalHeight,
    string Sha256, ulong PerceptualHash, string SourceFormat);

/// <summary>Result of checking one payload: an image, or a rejection with its reason.</summary>
public readonly record struct ImageOutcome(ProcessedImage? Image, ImageRejection? Rejection, string? Detail)
{
    public bool Accepted => Image is not null;

    public static ImageOutcome Accept(ProcessedImage image) => new(image, null, null);

    public static ImageOutcome Reject(ImageRejection reason, string detail) => new(null, reason, detail);
}
