using System.Security.Cryptography;
using CsCheck;
using Platform.Ingestion.Images;
using SkiaSharp;
using Xunit;

namespace Platform.Ingestion.Tests.Images;

public class ImageProcessorTests
{
    private static readonly ImageOptions SmallImages = new()
    {
        MinShorterSide = 16, MinBytes = 0, ResizeMode = ResizeMode.No,
    };

    private static SKBitmap DecodeJpeg(byte[] jpeg) => SKBitmap.Decode(jpeg);

    [Theory]
    [InlineData("jpeg")]
    [InlineData("png")]
    [InlineData("webp")]
    [InlineData("bmp")]
    public void Accepts_common_formats_and_reports_their_size(string format)
    {
        using var scene = TestImages.Scene(120, 90, seed: 3);
        var payload = format switch
        {
            "jpeg" => TestImages.Encode(scene, SKEncodedImageFormat.Jpeg),
            "png" => TestImages.Encode(scene, SKEncodedImageFormat.Png),
            "webp" => TestImages.Encode(scene, SKEncodedImageFormat.Webp),
            _ => TestImages.Bmp(scene),
        };

        var outcome = new ImageProcessor(SmallImages).Process(payload);

        Assert.True(outcome.Accepted, outcome.Detail);
        var image = outcome.Image!;
        Assert.Equal(format, image.SourceFormat);
        Assert.Equal((120, 90), (image.OriginalWidth, image.OriginalHeight));
        Assert.Equal((120, 90), (image.Width, image.Height));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(payload)), image.Sha256);
        using var stored = DecodeJpeg(image.Jpeg);
        Assert.Equal((120, 90), (stored.Width, stored.Height));
    }

    [Fact]
    public void Animated_gif_is_stored_as_its_first_frame()
    {
        var gif = TestImages.Gif(40, 30, SKColors.Red, SKColors.Blue);

        var outcome = new ImageProcessor(SmallImages).Process(gif);

        Assert.True(outcome.Accepted, outcome.Detail);
        Assert.Equal("gif", outcome.Image!.SourceFormat);
        using var stored = DecodeJpeg(outcome.Image.Jpeg);
        var centre = stored.GetPixel(20, 15);
        Assert.True(centre.Red > 200 && centre.Blue < 60, $"centre pixel {centre} is not the red first frame");
    }

    [Fact]
    public void Svg_is_rejected_as_unrecognised()
    {
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='300' height='300'><rect width='300' height='300'/></svg>"u8.ToArray();

        var outcome = new ImageProcessor(SmallImages).Process(svg);

        Assert.Equal(ImageRejection.UnrecognisedFormat, outcome.Rejection);
        Assert.Equal("unrecognised_format", outcome.Rejection!.Value.Code());
    }

    [Fact]
    public void Header_announcing_fifty_thousand_squared_is_a_decompression_bomb_and_is_not_decoded()
    {
        // A few bytes of pixel data under a header that announces 2.5 gigapixels.
        var bomb = TestImages.RawPng(50_000, 50_000, 8, 2, new byte[1024]);

        var outcome = new ImageProcessor(SmallImages).Process(bomb);

        Assert.Equal(ImageRejection.DecompressionBomb, outcome.Rejection);
        Assert.Contains("50000x50000", outcome.Detail);
    }

    /// <summary>A real JPEG with <paramref name="extraScans"/> more scan headers (each with a little entropy data) before its end.</summary>
    private static byte[] WithExtraScans(byte[] jpeg, int extraScans)
    {
        var firstScan = jpeg.AsSpan().IndexOf(new byte[] { 0xFF, 0xDA });
        var scanHeaderLength = (jpeg[firstScan + 2] << 8) | jpeg[firstScan + 3];
        var scanHeader = jpeg.AsSpan(firstScan, 2 + scanHeaderLength).ToArray();
        var extra = new List<byte>();
        for (var i = 0; i < extraScans; i++) extra.AddRange([.. scanHeader, 0x12, 0xFF, 0x00, 0x34]);
        return [.. jpeg.AsSpan(0, jpeg.Length - 2), .. extra, 0xFF, 0xD9];
    }

    [Fact]
    public void A_jpeg_of_thousands_of_scans_is_a_decompression_bomb_and_is_not_decoded()
    {
        var jpeg = TestImages.Jpeg(64, 48, seed: 3);
        Assert.Equal(1, JpegScans.Count(jpeg));
        var crafted = WithExtraScans(jpeg, 3000);
        Assert.Equal(3001, JpegScans.Count(crafted));

        var outcome = new ImageProcessor(SmallImages).Process(crafted);

        Assert.Equal(ImageRejection.DecompressionBomb, outcome.Rejection);
        Assert.Contains("500 JPEG scans", outcome.Detail);
        Assert.Null(new ImageProcessor(SmallImages).Process(jpeg).Rejection);
        Assert.NotEqual(ImageRejection.DecompressionBomb, new ImageProcessor(SmallImages).Process(WithExtraScans(jpeg, 10)).Rejection);
    }

    [Fact]
    public void Zero_bytes_and_random_bytes_are_rejected_with_reasons()
    {
        var processor = new ImageProcessor(SmallImages);
        Assert.Equal(ImageRejection.EmptyPayload, processor.Process([]).Rejection);
        var noise = new byte[4000];
        new Random(1).NextBytes(noise);
        Assert.Equal(ImageRejection.UnrecognisedFormat, processor.Process(noise).Rejection);
    }

    [Fact]
    public void Truncated_jpeg_is_rejected_as_truncated()
    {
        var jpeg = TestImages.Jpeg(200, 200, seed: 5);

        var outcome = new ImageProcessor(SmallImages).Process(jpeg[..(jpeg.Length / 2)]);

        Assert.Equal(ImageRejection.Truncated, outcome.Rejection);
    }

    [Fact]
    public void Size_aspect_and_byte_filters_use_their_defaults()
    {
        var processor = new ImageProcessor(new ImageOptions());
        Assert.Equal(200, processor.Options.MinShorterSide);
        Assert.Equal(3.0, processor.Options.MaxAspectRatio);
        Assert.Equal(5 * 1024, processor.Options.MinBytes);

        Assert.Equal(ImageRejection.TooSmall, processor.Process(TestImages.Jpeg(400, 199, seed: 1, quality: 100)).Rejection);
        Assert.Equal(ImageRejection.AspectRatio, processor.Process(TestImages.Jpeg(1000, 300, seed: 1, quality: 100)).Rejection);
        using var flat = TestImages.Solid(300, 300, SKColors.Gray);
        var tiny = TestImages.Encode(flat, SKEncodedImageFormat.Jpeg, 50);
        Assert.True(tiny.Length < 5 * 1024);
        Assert.Equal(ImageRejection.TooFewBytes, processor.Process(tiny).Rejection);
        Assert.True(processor.Process(TestImages.Jpeg(300, 300, seed: 1, quality: 100)).Accepted);
    }

    [Theory]
    [InlineData(ResizeMode.No, 400, 300)]
    [InlineData(ResizeMode.KeepRatio, 133, 100)]
    [InlineData(ResizeMode.CenterCrop, 100, 100)]
    [InlineData(ResizeMode.Border, 100, 100)]
    public void Resize_modes_give_the_documented_sizes(ResizeMode mode, int width, int height)
    {
        var jpeg = TestImages.Jpeg(400, 300, seed: 2);

        var outcome = new ImageProcessor(SmallImages with { ResizeMode = mode, ImageSize = 100 }).Process(jpeg);

        Assert.Equal((width, height), (outcome.Image!.Width, outcome.Image.Height));
        using var stored = DecodeJpeg(outcome.Image.Jpeg);
        Assert.Equal((width, height), (stored.Width, stored.Height));
    }

    [Fact]
    public void Border_mode_pads_with_white_and_keeps_content_in_the_middle()
    {
        using var black = TestImages.Solid(400, 200, SKColors.Black);
        var payload = TestImages.Encode(black, SKEncodedImageFormat.Png);

        var outcome = new ImageProcessor(SmallImages with { ResizeMode = ResizeMode.Border, ImageSize = 100 }).Process(payload);

        using var stored = DecodeJpeg(outcome.Image!.Jpeg);
        Assert.True(stored.GetPixel(50, 5).Red > 240, "top border should be white");
        Assert.True(stored.GetPixel(50, 95).Red > 240, "bottom border should be white");
        Assert.True(stored.GetPixel(50, 50).Red < 15, "content should stay black");
    }

    [Fact]
    public void Exif_orientation_rotates_the_stored_image_upright()
    {
        // Left half red, right half blue; orientation 6 means "rotate 90 degrees clockwise to display".
        using var bitmap = new SKBitmap(new SKImageInfo(300, 200, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            using var red = new SKPaint { Color = SKColors.Red };
            using var blue = new SKPaint { Color = SKColors.Blue };
            canvas.DrawRect(0, 0, 150, 200, red);
            canvas.DrawRect(150, 0, 150, 200, blue);
        }
        var jpeg = TestImages.WithExifOrientation(TestImages.Encode(bitmap, SKEncodedImageFormat.Jpeg, 95), 6);

        var outcome = new ImageProcessor(SmallImages).Process(jpeg);

        var image = outcome.Image!;
        Assert.Equal((200, 300), (image.OriginalWidth, image.OriginalHeight));
        using var stored = DecodeJpeg(image.Jpeg);
        Assert.Equal((200, 300), (stored.Width, stored.Height));
        var top = stored.GetPixel(100, 40);
        var bottom = stored.GetPixel(100, 260);
        Assert.True(top.Red > 200 && top.Blue < 60, $"top {top} should be red");
        Assert.True(bottom.Blue > 200 && bottom.Red < 60, $"bottom {bottom} should be blue");
    }

    [Fact]
    public void Sixteen_bit_png_is_converted_to_eight_bit_jpeg()
    {
        var png = TestImages.Png16(64, 48, 0xFFFF, 0x8000, 0x0000);

        var outcome = new ImageProcessor(SmallImages).Process(png);

        Assert.True(outcome.Accepted, outcome.Detail);
        using var stored = DecodeJpeg(outcome.Image!.Jpeg);
        var pixel = stored.GetPixel(32, 24);
        Assert.InRange(pixel.Red, 240, 255);
        Assert.InRange(pixel.Green, 110, 145);
        Assert.InRange(pixel.Blue, 0, 20);
    }

    [Fact]
    public void Cmyk_jpeg_is_converted_to_rgb()
    {
        var cmyk = TestImages.CmykJpeg(32, 24);

        var outcome = new ImageProcessor(SmallImages).Process(cmyk);

        Assert.True(outcome.Accepted, outcome.Detail);
        Assert.Equal(("jpeg", 32, 24), (outcome.Image!.SourceFormat, outcome.Image.OriginalWidth, outcome.Image.OriginalHeight));
        using var stored = DecodeJpeg(outcome.Image.Jpeg);
        Assert.Equal((32, 24), (stored.Width, stored.Height));
        // Uniform input stays uniform after the CMYK-to-RGB conversion.
        var corner = stored.GetPixel(0, 0);
        var centre = stored.GetPixel(16, 12);
        Assert.True(Math.Abs(corner.Red - centre.Red) < 8 && Math.Abs(corner.Green - centre.Green) < 8, $"{corner} vs {centre}");
    }

    [Fact]
    public void Jpeg_with_huge_metadata_segments_still_decodes()
    {
        var jpeg = TestImages.WithHugeMetadata(TestImages.Jpeg(64, 64, seed: 4), count: 8);
        Assert.True(jpeg.Length > 500_000);

        var outcome = new ImageProcessor(SmallImages).Process(jpeg);

        Assert.True(outcome.Accepted, outcome.Detail);
        Assert.Equal((64, 64), (outcome.Image!.Width, outcome.Image.Height));
    }

    [Fact]
    public void Scaled_decode_of_a_large_jpeg_gives_the_same_output_size_and_a_close_hash()
    {
        var jpeg = TestImages.Jpeg(1600, 1200, seed: 9);
        var options = SmallImages with { ResizeMode = ResizeMode.CenterCrop, ImageSize = 128 };

        var scaled = new ImageProcessor(options).Process(jpeg).Image!;
        var full = new ImageProcessor(options with { AllowScaledDecode = false }).Process(jpeg).Image!;

        Assert.Equal((128, 128), (scaled.Width, scaled.Height));
        Assert.Equal((1600, 1200), (scaled.OriginalWidth, scaled.OriginalHeight));
        Assert.True(PerceptualHash.Distance(scaled.PerceptualHash, full.PerceptualHash) <= 4);
    }

    [Fact]
    public void Arbitrary_bytes_and_corrupted_jpegs_never_throw_and_always_carry_a_reason()
    {
        var processor = new ImageProcessor(SmallImages);
        var valid = TestImages.Jpeg(48, 48, seed: 11);
        Gen.Byte.Array[0, 3000].Sample(bytes =>
        {
            var outcome = processor.Process(bytes);
            return outcome.Accepted || (outcome.Rejection is { } r && r.Code().Length > 0);
        }, iter: 200);
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte, Gen.Int[1, valid.Length]).Sample((at, value, cut) =>
        {
            var corrupted = valid[..cut];
            if (at < corrupted.Length) corrupted[at] = value;
            var outcome = processor.Process(corrupted);
            return outcome.Accepted || outcome.Rejection is not null;
        }, iter: 200);
    }
}
