namespace Platform.Ingestion.Images;

/// <summary>How the stored image is sized (img2dataset's resize modes).</summary>
public enum ResizeMode
{
    /// <summary>Store the decoded image at its own size (still re-encoded as JPEG).</summary>
    No,
    /// <summary>Scale so the shorter side equals <see cref="ImageOptions.ImageSize"/>, keeping the aspect ratio.</summary>
    KeepRatio,
    /// <summary>Scale so the shorter side equals the size, then cut the centred square.</summary>
    CenterCrop,
    /// <summary>Scale so the longer side equals the size, then pad to a square with white borders.</summary>
    Border,
}

/// <summary>Image checks and output format. Defaults follow data.md (ALIGN / LAION / img2dataset).</summary>
public sealed record ImageOptions
{
    /// <summary>Smallest accepted shorter side in pixels (DataComp / ALIGN: 200).</summary>
    public int MinShorterSide { get; init; } = 200;

    /// <summary>Largest accepted longer/shorter side ratio (ALIGN, DataComp: 3).</summary>
    public double MaxAspectRatio { get; init; } = 3.0;

    /// <summary>Smallest accepted encoded size in bytes (LAION-5B: 5 KB).</summary>
    public int MinBytes { get; init; } = 5 * 1024;

    /// <summary>Largest accepted encoded size in bytes; larger payloads are refused before decoding.</summary>
    public int MaxBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>
    /// Largest width x height announced by a header that will be decoded. Guards against decompression
    /// bombs (tiny files that announce huge canvases). Default is PIL's MAX_IMAGE_PIXELS, which
    /// img2dataset inherits.
    /// </summary>
    public long MaxPixels { get; init; } = 89_478_485;

    /// <summary>
    /// Most scans a JPEG may have (default 500, libjpeg-turbo's TurboJPEG scan limit): a progressive JPEG
    /// is decoded once per scan, so a small file of thousands of scans would hold a worker for minutes.
    /// More is refused as a decompression bomb before decoding.
    /// </summary>
    public int MaxJpegScans { get; init; } = 500;

    /// <summary>Target size for the resize modes other than <see cref="ResizeMode.No"/> (img2dataset: 256).</summary>
    public int ImageSize { get; init; } = 256;

    /// <summary>Resize mode (img2dataset default: border).</summary>
    public ResizeMode ResizeMode { get; init; } = ResizeMode.Border;

    /// <summary>JPEG quality of the stored image, 1..100 (img2dataset: 95).</summary>
    public int JpegQuality { get; init; } = 95;

    /// <summary>
    /// Whether the decoder may decode JPEGs directly at a reduced scale (1/2, 1/4, 1/8) when the output
    /// is much smaller than the source. Much faster; the output differs slightly from a full decode.
    /// </summary>
    public bool AllowScaledDecode { get; init; } = true;
}
