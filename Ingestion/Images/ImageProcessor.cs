using System.Security.Cryptography;
using SkiaSharp;

namespace Platform.Ingestion.Images;

/// <summary>
/// Checks one downloaded payload and turns it into the stored JPEG. Everything that can be decided from
/// the header (format, dimensions, decompression bombs, size and aspect filters) is decided before any
/// pixel is decoded, so bad input costs little memory. Thread-safe; one instance serves all workers.
/// </summary>
public sealed class ImageProcessor(ImageOptions options)
{
    private static readonly SKSamplingOptions Sampling = new(SKFilterMode.Linear, SKMipmapMode.Linear);

    public ImageOptions Options { get; } = options;

    public ImageOutcome Process(byte[] payload)
    {
        if (payload.Length == 0) return ImageOutcome.Reject(ImageRejection.EmptyPayload, "zero bytes");
        if (payload.Length < Options.MinBytes)
            return ImageOutcome.Reject(ImageRejection.TooFewBytes, $"{payload.Length} bytes < {Options.MinBytes}");
        if (payload.Length > Options.MaxBytes)
            return ImageOutcome.Reject(ImageRejection.TooManyBytes, $"{payload.Length} bytes > {Options.MaxBytes}");

        var decoded = Decode(payload, DecodeTarget.ForOutput(Options), out var header, out var rejection);
        if (decoded is null) return rejection!.Value;
        using (decoded)
        {
            // One resampling pass: the whole picture scaled as the mode needs. The hash comes from it (the
            // full picture, never the crop or the borders) and the output is placed from it without resampling.
            using var content = ScaleContent(decoded);
            var hash = PerceptualHash.Compute(content);
            using var placed = Options.ResizeMode is ResizeMode.CenterCrop or ResizeMode.Border ? Place(content) : null;
            var output = placed ?? content;
            using var data = output.PeekPixels().Encode(new SKJpegEncoderOptions(Options.JpegQuality));
            if (data is null) return ImageOutcome.Reject(ImageRejection.EncodeFailed, "JPEG encoder returned nothing");
            return ImageOutcome.Accept(new ProcessedImage(
                data.ToArray(), output.Width, output.Height, header.OrientedWidth, header.OrientedHeight,
                Convert.ToHexStringLower(SHA256.HashData(payload)), hash, header.Format));
        }
    }

    /// <summary>
    /// Perceptual hash of a payload without the size filters or re-encoding: used for evaluation images,
    /// which are hashed whatever their size. Null when the payload is not a decodable image.
    /// </summary>
    public ulong? HashOnly(byte[] payload)
    {
        using var decoded = Decode(payload, DecodeTarget.ForHash, out _, out _, applyFilters: false);
        return decoded is null ? null : PerceptualHash.Compute(decoded);
    }

    private readonly record struct Header(string Format, int OrientedWidth, int OrientedHeight);

    /// <summary>Smallest decoded size that still serves the output; lets JPEG decode at 1/2, 1/4 or 1/8 scale.</summary>
    private readonly record struct DecodeTarget(int MinShorterSide, int MinLongerSide)
    {
        // The perceptual hash reduces to 32x32; decoding a little above that keeps the reduction an average.
        public static DecodeTarget ForHash => new(64, 64);

        public static DecodeTarget ForOutput(ImageOptions o) => !o.AllowScaledDecode
            ? new(int.MaxValue, int.MaxValue)
            : o.ResizeMode switch
            {
                ResizeMode.No => new(int.MaxValue, int.MaxValue),
                ResizeMode.Border => new(0, o.ImageSize),
                _ => new(o.ImageSize, 0),
            };
    }

    private SKBitmap? Decode(byte[] payload, DecodeTarget target, out Header header, out ImageOutcome? rejection,
        bool applyFilters = true)
    {
        header = default;
        using var data = SKData.CreateCopy(payload);
        // The codec owns the stream once created (and SkiaSharp frees it when creation fails).
        using var codec = SKCodec.Create(new SKMemoryStream(data), out var created);
        if (codec is null)
        {
            rejection = created == SKCodecResult.IncompleteInput
                ? ImageOutcome.Reject(ImageRejection.Truncated, "payload ends inside the image header")
                : ImageOutcome.Reject(ImageRejection.UnrecognisedFormat, "no decoder recognises the payload");
            return null;
        }

        var format = codec.EncodedFormat switch
        {
            SKEncodedImageFormat.Jpeg => "jpeg",
            SKEncodedImageFormat.Png => "png",
            SKEncodedImageFormat.Webp => "webp",
            SKEncodedImageFormat.Gif => "gif",
            SKEncodedImageFormat.Bmp => "bmp",
            _ => null,
        };
        if (format is null)
        {
            rejection = ImageOutcome.Reject(ImageRejection.UnsupportedFormat, codec.EncodedFormat.ToString().ToLowerInvariant());
            return null;
        }

        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0)
        {
            rejection = ImageOutcome.Reject(ImageRejection.DecodeFailed, $"header announces {width}x{height}");
            return null;
        }
        if ((long)width * height > Options.MaxPixels)
        {
            rejection = ImageOutcome.Reject(ImageRejection.DecompressionBomb,
                $"header announces {width}x{height} > {Options.MaxPixels} pixels");
            return null;
        }

        if (format == "jpeg" && JpegScans.Count(payload, Options.MaxJpegScans + 1) > Options.MaxJpegScans)
        {
            rejection = ImageOutcome.Reject(ImageRejection.DecompressionBomb, $"more than {Options.MaxJpegScans} JPEG scans");
            return null;
        }

        var swapsAxes = SwapsAxes(codec.EncodedOrigin);
        header = swapsAxes ? new Header(format, height, width) : new Header(format, width, height);
        if (applyFilters)
        {
            var shorter = Math.Min(width, height);
            var longer = Math.Max(width, height);
            if (shorter < Options.MinShorterSide)
            {
                rejection = ImageOutcome.Reject(ImageRejection.TooSmall, $"shorter side {shorter} < {Options.MinShorterSide}");
                return null;
            }
            if ((double)longer / shorter > Options.MaxAspectRatio)
            {
                rejection = ImageOutcome.Reject(ImageRejection.AspectRatio,
                    $"aspect ratio {(double)longer / shorter:0.###} > {Options.MaxAspectRatio}");
                return null;
            }
        }

        var size = ScaledSize(codec, target);
        var (bitmap, result) = DecodeAt(codec, size);
        if (result == SKCodecResult.InvalidScale && size != codec.Info.Size)
            (bitmap, result) = DecodeAt(codec, codec.Info.Size);
        if (bitmap is null)
        {
            rejection = result switch
            {
                SKCodecResult.IncompleteInput =>
                    ImageOutcome.Reject(ImageRejection.Truncated, "payload ends before the image does"),
                null => ImageOutcome.Reject(ImageRejection.DecodeFailed, $"cannot allocate {size.Width}x{size.Height}"),
                _ => ImageOutcome.Reject(ImageRejection.DecodeFailed, $"decoder says {result}"),
            };
            return null;
        }

        rejection = null;
        var upright = Orient(bitmap, codec.EncodedOrigin);
        // Immutable pixels let the canvas draw from them without first copying the whole image.
        upright.SetImmutable();
        return upright;
    }

    /// <summary>Decodes frame 0 (animated GIF/WebP are stored as their first frame); null bitmap on failure.</summary>
    private static (SKBitmap? Bitmap, SKCodecResult? Result) DecodeAt(SKCodec codec, SKSizeI size)
    {
        // sRGB N32 output: CMYK JPEGs, 16-bit PNGs, palette GIFs and wide-gamut images all land in one layout.
        var info = new SKImageInfo(size.Width, size.Height, SKImageInfo.PlatformColorType, SKAlphaType.Premul,
            SKColorSpace.CreateSrgb());
        var bitmap = new SKBitmap();
        if (!bitmap.TryAllocPixels(info))
        {
            bitmap.Dispose();
            return (null, null);
        }
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result == SKCodecResult.Success) return (bitmap, result);
        bitmap.Dispose();
        return (null, result);
    }

    private static SKSizeI ScaledSize(SKCodec codec, DecodeTarget target)
    {
        var full = codec.Info.Size;
        if (codec.EncodedFormat != SKEncodedImageFormat.Jpeg) return full;
        var shorter = Math.Min(full.Width, full.Height);
        var longer = Math.Max(full.Width, full.Height);
        var best = full;
        // libjpeg scales by n/8; try the coarsest scale that still covers the target.
        foreach (var scale in new[] { 0.5f, 0.25f, 0.125f })
        {
            var candidate = codec.GetScaledDimensions(scale);
            var cShorter = Math.Min(candidate.Width, candidate.Height);
            var cLonger = Math.Max(candidate.Width, candidate.Height);
            if (cShorter >= target.MinShorterSide && cLonger >= target.MinLongerSide
                && cShorter < shorter && cLonger < longer)
                best = candidate;
        }
        return best;
    }

    private static bool SwapsAxes(SKEncodedOrigin origin) => origin is SKEncodedOrigin.LeftTop
        or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>Applies the EXIF orientation so the pixels are upright; disposes the input when it transforms.</summary>
    private static SKBitmap Orient(SKBitmap bitmap, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft) return bitmap;
        float w = bitmap.Width, h = bitmap.Height;
        // Each matrix maps a source pixel (x, y) to where it belongs in the upright image.
        var matrix = origin switch
        {
            SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
            SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightTop => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1),
            SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1),
            _ => SKMatrix.Identity,
        };
        var swaps = SwapsAxes(origin);
        var upright = new SKBitmap(new SKImageInfo(swaps ? bitmap.Height : bitmap.Width,
            swaps ? bitmap.Width : bitmap.Height, bitmap.ColorType, bitmap.AlphaType, bitmap.ColorSpace));
        using (var canvas = new SKCanvas(upright))
        {
            canvas.SetMatrix(matrix);
            canvas.DrawBitmap(bitmap, 0, 0, new SKSamplingOptions(SKFilterMode.Nearest));
        }
        bitmap.Dispose();
        return upright;
    }

    /// <summary>The whole picture at the scale the resize mode calls for, flattened onto white (JPEG has no alpha).</summary>
    private SKBitmap ScaleContent(SKBitmap source)
    {
        int sw = source.Width, sh = source.Height, size = Options.ImageSize;
        var scale = Options.ResizeMode switch
        {
            ResizeMode.No => 1.0,
            ResizeMode.KeepRatio or ResizeMode.CenterCrop => (double)size / Math.Min(sw, sh),
            ResizeMode.Border => (double)size / Math.Max(sw, sh),
            _ => throw new InvalidOperationException($"unknown resize mode {Options.ResizeMode}"),
        };
        int w = Math.Max(1, (int)Math.Round(sw * scale)), h = Math.Max(1, (int)Math.Round(sh * scale));
        return Draw(w, h, source, new SKRect(0, 0, w, h), Sampling);
    }

    /// <summary>Cuts or pads the scaled picture to the output size; integer offsets, so no second resampling.</summary>
    private SKBitmap Place(SKBitmap content)
    {
        var size = Options.ImageSize;
        int left = (size - content.Width) / 2, top = (size - content.Height) / 2;
        return Draw(size, size, content, new SKRect(left, top, left + content.Width, top + content.Height),
            new SKSamplingOptions(SKFilterMode.Nearest));
    }

    private static SKBitmap Draw(int width, int height, SKBitmap source, SKRect destination, SKSamplingOptions sampling)
    {
        var output = new SKBitmap(new SKImageInfo(width, height, SKImageInfo.PlatformColorType, SKAlphaType.Premul,
            SKColorSpace.CreateSrgb()));
        using var canvas = new SKCanvas(output);
        // JPEG has no alpha: transparent regions and borders become white, as img2dataset does.
        canvas.Clear(SKColors.White);
        canvas.DrawBitmap(source, destination, sampling);
        return output;
    }
}
