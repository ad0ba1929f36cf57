using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;

namespace Platform.Ingestion.Tests.Images;

/// <summary>Builds small test images in every format the processor meets, including broken ones.</summary>
public static class TestImages
{
    /// <summary>A textured picture (gradient plus seeded shapes) so perceptual hashes carry structure.</summary>
    public static SKBitmap Scene(int width, int height, int seed, SKColor? tint = null)
    {
        var random = new Random(seed);
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        var baseColour = tint ?? new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        using (var shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height),
                   [baseColour, SKColors.White], SKShaderTileMode.Clamp))
        using (var paint = new SKPaint { Shader = shader })
            canvas.DrawRect(0, 0, width, height, paint);
        for (var i = 0; i < 12; i++)
        {
            using var paint = new SKPaint
            {
                Color = tint is { } t
                    ? new SKColor((byte)Math.Clamp(t.Red + random.Next(-40, 40), 0, 255),
                        (byte)Math.Clamp(t.Green + random.Next(-40, 40), 0, 255),
                        (byte)Math.Clamp(t.Blue + random.Next(-40, 40), 0, 255))
                    : new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)),
                IsAntialias = true,
            };
            canvas.DrawCircle(random.Next(width), random.Next(height), random.Next(width / 10, width / 3), paint);
        }
        return bitmap;
    }

    public static SKBitmap Solid(int width, int height, SKColor colour)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        bitmap.Erase(colour);
        return bitmap;
    }

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, int quality = 90)
    {
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    public static byte[] Jpeg(int width, int height, int seed, int quality = 90)
    {
        using var scene = Scene(width, height, seed);
        return Encode(scene, SKEncodedImageFormat.Jpeg, quality);
    }

    /// <summary>Inserts an APP1 EXIF segment carrying only an orientation tag right after the JPEG SOI marker.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        var tiff = new byte[26];
        "II*\0"u8.CopyTo(tiff);
        BinaryPrimitives.WriteUInt32LittleEndian(tiff.AsSpan(4), 8);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(10), 0x0112);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(12), 3);
        BinaryPrimitives.WriteUInt32LittleEndian(tiff.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(18), orientation);
        return InsertSegment(jpeg, 0xE1, [.. "Exif\0\0"u8, .. tiff]);
    }

    /// <summary>Adds <paramref name="count"/> maximal APP segments of junk, as cameras and editors sometimes do.</summary>
    public static byte[] WithHugeMetadata(byte[] jpeg, int count)
    {
        var result = jpeg;
        var junk = new byte[65_000];
        new Random(7).NextBytes(junk);
        for (var i = 0; i < count; i++) result = InsertSegment(result, 0xE2, junk);
        return result;
    }

    private static byte[] InsertSegment(byte[] jpeg, byte marker, byte[] body)
    {
        var segment = new byte[4 + body.Length];
        segment[0] = 0xFF;
        segment[1] = marker;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(body.Length + 2));
        body.CopyTo(segment, 4);
        return [.. jpeg.AsSpan(0, 2), .. segment, .. jpeg.AsSpan(2)];
    }

    /// <summary>A PNG written chunk by chunk, so the header may announce anything (16-bit, huge canvases).</summary>
    public static byte[] RawPng(int width, int height, byte bitDepth, byte colourType, byte[] scanlines)
    {
        using var output = new MemoryStream();
        output.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = bitDepth;
        ihdr[9] = colourType;
        WriteChunk(output, "IHDR", ihdr);
        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
                zlib.Write(scanlines);
            WriteChunk(output, "IDAT", compressed.ToArray());
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>A 16-bit-per-channel RGB PNG of one colour.</summary>
    public static byte[] Png16(int width, int height, ushort red, ushort green, ushort blue)
    {
        var stride = 1 + width * 6;
        var rows = new byte[stride * height];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var at = rows.AsSpan(y * stride + 1 + x * 6);
                BinaryPrimitives.WriteUInt16BigEndian(at, red);
                BinaryPrimitives.WriteUInt16BigEndian(at[2..], green);
                BinaryPrimitives.WriteUInt16BigEndian(at[4..], blue);
            }
        return RawPng(width, height, 16, 2, rows);
    }

    private static void WriteChunk(Stream output, string type, byte[] body)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, body.Length);
        output.Write(length);
        var typeAndBody = new byte[4 + body.Length];
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(typeAndBody, 0);
        body.CopyTo(typeAndBody, 4);
        output.Write(typeAndBody);
        BinaryPrimitives.WriteUInt32BigEndian(length, Crc32(typeAndBody));
        output.Write(length);
    }

    private static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A 24-bit bottom-up BMP.</summary>
    public static byte[] Bmp(SKBitmap bitmap)
    {
        int w = bitmap.Width, h = bitmap.Height, stride = (w * 3 + 3) & ~3;
        var file = new byte[54 + stride * h];
        file[0] = (byte)'B';
        file[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(2), file.Length);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(18), w);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(22), h);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(34), stride * h);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var c = bitmap.GetPixel(x, h - 1 - y);
                var at = 54 + y * stride + x * 3;
                file[at] = c.Blue;
                file[at + 1] = c.Green;
                file[at + 2] = c.Red;
            }
        return file;
    }

    /// <summary>
    /// A GIF with one solid-colour frame per entry of <paramref name="frameColours"/>. The LZW stream emits a
    /// clear code before the code width would grow, which keeps the encoder trivial and the file valid.
    /// </summary>
    public static byte[] Gif(int width, int height, params SKColor[] frameColours)
    {
        using var output = new MemoryStream();
        output.Write("GIF89a"u8);
        Span<byte> screen = stackalloc byte[7];
        BinaryPrimitives.WriteUInt16LittleEndian(screen, (ushort)width);
        BinaryPrimitives.WriteUInt16LittleEndian(screen[2..], (ushort)height);
        screen[4] = 0xF1; // global colour table of 4 entries
        output.Write(screen);
        var palette = new byte[12];
        for (var i = 0; i < Math.Min(4, frameColours.Length); i++)
        {
            palette[i * 3] = frameColours[i].Red;
            palette[i * 3 + 1] = frameColours[i].Green;
            palette[i * 3 + 2] = frameColours[i].Blue;
        }
        output.Write(palette);
        if (frameColours.Length > 1)
            output.Write([0x21, 0xFF, 0x0B, .. "NETSCAPE2.0"u8, 0x03, 0x01, 0x00, 0x00, 0x00]);
        for (var frame = 0; frame < frameColours.Length; frame++)
        {
            output.Write([0x21, 0xF9, 0x04, 0x00, 0x0A, 0x00, 0x00, 0x00]);
            output.WriteByte(0x2C);
            var descriptor = new byte[9];
            BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(4), (ushort)width);
            BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(6), (ushort)height);
            output.Write(descriptor);
            const int minCodeSize = 2;
            output.WriteByte(minCodeSize);
            var bits = new BitWriter();
            const int clear = 4, end = 5;
            var pixels = width * height;
            for (var i = 0; i < pixels; i++)
            {
                // Codes 0..5 fit in 3 bits until the table holds 8 entries: clear every 2 literals.
                if (i % 2 == 0) bits.Write(clear, 3);
                bits.Write(frame % 4, 3);
            }
            bits.Write(end, 3);
            var data = bits.ToArray();
            for (var at = 0; at < data.Length; at += 255)
            {
                var n = Math.Min(255, data.Length - at);
                output.WriteByte((byte)n);
                output.Write(data, at, n);
            }
            output.WriteByte(0);
        }
        output.WriteByte(0x3B);
        return output.ToArray();
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = [];
        private int _current;
        private int _used;

        public void Write(int code, int width)
        {
            for (var i = 0; i < width; i++)
            {
                if (((code >> i) & 1) != 0) _current |= 1 << _used;
                if (++_used == 8)
                {
                    _bytes.Add((byte)_current);
                    _current = 0;
                    _used = 0;
                }
            }
        }

        public byte[] ToArray() => _used == 0 ? [.. _bytes] : [.. _bytes, (byte)_current];
    }

    /// <summary>
    /// A baseline four-component (CMYK, Adobe APP14) JPEG of uniform colour, written by hand because SkiaSharp
    /// cannot encode CMYK. Every block holds only a zero DC difference and an end-of-block, each a 1-bit code.
    /// </summary>
    public static byte[] CmykJpeg(int width, int height)
    {
        if (width % 8 != 0 || height % 8 != 0) throw new ArgumentException("dimensions must be multiples of 8");
        using var output = new MemoryStream();
        output.Write([0xFF, 0xD8]);
        output.Write([0xFF, 0xEE, 0x00, 0x0E, .. "Adobe"u8, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);
        output.Write([0xFF, 0xDB, 0x00, 0x43, 0x00]);
        output.Write(Enumerable.Repeat((byte)1, 64).ToArray());
        output.Write([0xFF, 0xC0, 0x00, 0x14, 0x08, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 0x04]);
        for (byte c = 1; c <= 4; c++) output.Write([c, 0x11, 0x00]);
        foreach (var tableClass in new byte[] { 0x00, 0x10 })
            output.Write([0xFF, 0xC4, 0x00, 0x14, tableClass, 0x01, .. new byte[15], 0x00]);
        output.Write([0xFF, 0xDA, 0x00, 0x0E, 0x04, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x3F, 0x00]);
        var bits = width / 8 * (height / 8) * 4 * 2;
        output.Write(new byte[bits / 8]);
        if (bits % 8 != 0) output.WriteByte((byte)(0xFF >> (bits % 8)));
        output.Write([0xFF, 0xD9]);
        return output.ToArray();
    }
}
