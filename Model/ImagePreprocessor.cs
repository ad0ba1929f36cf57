using SkiaSharp;

namespace Platform.Model;

/// <summary>
/// Turns encoded images (JPEG, PNG, WebP...) into the model's input: the largest centred square,
/// resized to the model's side with cubic resampling, channels first, each channel scaled to
/// (value/255 - mean) / std. The defaults map [0, 255] to [-1, 1], as ViT and BiT do.
/// </summary>
public sealed record ImagePreprocessor(int Size, float[]? Mean = null, float[]? Std = null)
{
    private readonly float[] mean = Mean ?? [0.5f, 0.5f, 0.5f];
    private readonly float[] std = Std ?? [0.5f, 0.5f, 0.5f];

    /// <summary>Normalised pixels (3 x Size x Size), or null with a reason when the bytes are no decodable image.</summary>
    public float[]? Preprocess(byte[] encoded, out string? problem)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data);
        using var decoded = codec is null ? null : SKBitmap.Decode(codec);
        if (decoded is null || decoded.Width == 0 || decoded.Height == 0)
        {
            problem = "not a decodable image";
            return null;
        }
        int side = Math.Min(decoded.Width, decoded.Height);
        var crop = SKRectI.Create((decoded.Width - side) / 2, (decoded.Height - side) / 2, side, side);
        using var square = new SKBitmap(side, side, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using (var canvas = new SKCanvas(square))
        {
            canvas.Clear(SKColors.White); // transparent areas read as white, not black
            using var image = SKImage.FromBitmap(decoded);
            canvas.DrawImage(image, crop, SKRect.Create(side, side), new SKSamplingOptions(SKFilterMode.Nearest), null);
        }
        using var resized = square.Resize(new SKImageInfo(Size, Size, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKCubicResampler.CatmullRom));
        if (resized is null)
        {
            problem = "could not be resized";
            return null;
        }
        ReadOnlySpan<byte> rgba = resized.GetPixelSpan();
        var pixels = new float[3 * Size * Size];
        int plane = Size * Size;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                pixels[c * plane + i] = (rgba[i * 4 + c] / 255f - mean[c]) / std[c];
        problem = null;
        return pixels;
    }
}
