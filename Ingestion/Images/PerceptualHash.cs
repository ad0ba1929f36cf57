using System.Numerics;
using SkiaSharp;

namespace Platform.Ingestion.Images;

/// <summary>
/// 64-bit DCT perceptual hash (pHash, as in the imagehash library): the image is reduced to 32x32 grey,
/// transformed with a 2-D DCT-II, and each of the 8x8 lowest-frequency coefficients becomes one bit,
/// set when the coefficient exceeds their median. Re-encoding, rescaling and small crops change few bits;
/// different images differ in about half of them.
/// </summary>
public static class PerceptualHash
{
    private const int Side = 32;
    private const int Low = 8;

    // cos(pi/Side * (x + 0.5) * u) for the Low lowest frequencies; the DCT normalisation does not change
    // the ordering against the median, so it is left out.
    private static readonly double[,] Cosines = BuildCosines();

    public static int Distance(ulong a, ulong b) => BitOperations.PopCount(a ^ b);

    /// <summary>Hash of a decoded image.</summary>
    public static ulong Compute(SKBitmap image)
    {
        var info = new SKImageInfo(Side, Side, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var small = new SKBitmap(info);
        using (var canvas = new SKCanvas(small))
        {
            // Transparent pixels count as white, as they are when the image is stored as JPEG.
            canvas.Clear(SKColors.White);
            canvas.DrawBitmap(image, new SKRect(0, 0, Side, Side),
                new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        var grey = new double[Side * Side];
        var pixels = small.GetPixelSpan();
        for (var i = 0; i < grey.Length; i++)
        {
            var p = pixels.Slice(i * 4, 4);
            grey[i] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        }
        return FromGrey(grey);
    }

    private static ulong FromGrey(double[] grey)
    {
        // Separable DCT restricted to the low frequencies: rows first, then columns.
        var rows = new double[Side, Low];
        for (var y = 0; y < Side; y++)
            for (var u = 0; u < Low; u++)
            {
                double sum = 0;
                for (var x = 0; x < Side; x++) sum += grey[y * Side + x] * Cosines[u, x];
                rows[y, u] = sum;
            }

        Span<double> coefficients = stackalloc double[Low * Low];
        for (var v = 0; v < Low; v++)
            for (var u = 0; u < Low; u++)
            {
                double sum = 0;
                for (var y = 0; y < Side; y++) sum += rows[y, u] * Cosines[v, y];
                coefficients[v * Low + u] = sum;
            }

        Span<double> sorted = stackalloc double[Low * Low];
        coefficients.CopyTo(sorted);
        sorted.Sort();
        var median = (sorted[31] + sorted[32]) / 2;

        ulong hash = 0;
        for (var i = 0; i < Low * Low; i++)
            if (coefficients[i] > median) hash |= 1UL << i;
        return hash;
    }

    private static double[,] BuildCosines()
    {
        var table = new double[Low, Side];
        for (var u = 0; u < Low; u++)
            for (var x = 0; x < Side; x++)
                table[u, x] = Math.Cos(Math.PI / Side * (x + 0.5) * u);
        return table;
    }
}
