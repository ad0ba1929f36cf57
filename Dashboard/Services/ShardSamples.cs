using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using Platform.Datasets;

namespace Platform.Dashboard.Services;

/// <summary>One sample of a shard as the sample grid shows it; the image is fetched by its byte range inside the tar.</summary>
public sealed record GridSample(string Key, string Caption, string? PageUrl, int? Width, int? Height, long ImageOffset, long ImageBytes);

/// <summary>A page of a shard's samples and how many samples matched before and on it.</summary>
public sealed record GridPage(IReadOnlyList<GridSample> Samples, int Matched, bool More);

/// <summary>
/// Reads a WebDataset shard's samples for the sample grid without unpacking it: the tar's headers give each file's
/// offset and size; captions and metadata (small) are read, images are skipped over (a seek on a file or blob stream)
/// and later served by their byte range.
/// </summary>
public static class ShardSamples
{
    /// <summary>Largest image the grid serves; a WebDataset image larger than this is not a thumbnail.</summary>
    public const long MaxImageBytes = 16 << 20;

    private const int BlockSize = 512;

    /// <summary>Samples <paramref name="skip"/>..<paramref name="skip"/>+<paramref name="take"/> of those whose caption or page URL contains <paramref name="search"/>.</summary>
    public static GridPage Read(Stream tar, int skip, int take, string? search)
    {
        var samples = new List<GridSample>();
        var matched = 0;
        using var reader = new TarReader(tar, leaveOpen: true);
        string? key = null;
        (long Offset, long Length)? image = null;
        string caption = "";
        SampleRecord? record = null;

        bool Flush()
        {
            if (key is null || image is null) return true;
            var text = record?.Caption is { Length: > 0 } c ? c : caption;
            if (string.IsNullOrEmpty(search) || text.Contains(search, StringComparison.OrdinalIgnoreCase)
                || (record?.Url?.Contains(search, StringComparison.OrdinalIgnoreCase) ?? false))
            {
                if (matched >= skip && samples.Count < take)
                    samples.Add(new GridSample(key, text, string.IsNullOrEmpty(record?.Url) ? null : record.Url, record?.Width, record?.Height,
                        image.Value.Offset, image.Value.Length));
                matched++;
            }
            return samples.Count < take;
        }

        while (reader.GetNextEntry(copyData: false) is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            var name = entry.Name;
            var dot = name.LastIndexOf('.');
            if (dot <= 0) continue;
            var entryKey = name[..dot];
            if (entryKey != key)
            {
                if (!Flush()) return new GridPage(samples, matched, More: true);
                key = entryKey;
                image = null;
                caption = "";
                record = null;
            }
            switch (name[(dot + 1)..])
            {
                case "jpg" or "jpeg" or "png" or "webp":
                    // On a seekable archive the reader returns the entry with the stream already past its data and padding
                    // (the data is read through a view of its own), so the data starts one padded length back.
                    image = (tar.CanSeek ? tar.Position - Padded(entry.Length) : -1, entry.Length);
                    break;
                case "txt" when entry.DataStream is { } data:
                    caption = ReadText(data);
                    break;
                case "json" when entry.DataStream is { } data:
                    try { record = JsonSerializer.Deserialize<SampleRecord>(ReadText(data)); }
                    catch (JsonException) { record = null; }
                    break;
            }
        }
        Flush();
        return new GridPage(samples, matched, More: false);
    }

    /// <summary>
    /// Whether <paramref name="offset"/> and <paramref name="length"/> are exactly an image file of the tar: the
    /// 512-byte header before the offset must be a valid tar header of a file that size with an image extension. The
    /// image endpoint serves only such ranges, never arbitrary bytes of a shard.
    /// </summary>
    public static bool IsImageEntry(Stream tar, long offset, long length)
    {
        if (offset < BlockSize || offset % BlockSize != 0 || length <= 0 || length > MaxImageBytes) return false;
        tar.Position = offset - BlockSize;
        var header = new byte[BlockSize];
        tar.ReadExactly(header);
        var stored = header.AsSpan(148, 8);
        long sum = 0;
        for (var i = 0; i < BlockSize; i++) sum += i is >= 148 and < 156 ? (byte)' ' : header[i];
        if (ParseOctal(stored) != sum) return false;
        if (ParseOctal(header.AsSpan(124, 12)) != length) return false;
        var name = Encoding.ASCII.GetString(header, 0, 100).TrimEnd('\0');
        return name.EndsWith(".jpg", StringComparison.Ordinal) || name.EndsWith(".jpeg", StringComparison.Ordinal)
            || name.EndsWith(".png", StringComparison.Ordinal) || name.EndsWith(".webp", StringComparison.Ordinal);
    }

    private static long Padded(long length) => (length + BlockSize - 1) / BlockSize * BlockSize;

    private static long ParseOctal(ReadOnlySpan<byte> field)
    {
        long value = 0;
        foreach (var b in field)
        {
            if (b is (byte)' ' or 0) { if (value > 0) break; continue; }
            if (b is < (byte)'0' or > (byte)'7') return -1;
            value = value * 8 + (b - '0');
        }
        return value;
    }

    private static string ReadText(Stream data)
    {
        using var reader = new StreamReader(data, Encoding.UTF8, leaveOpen: true);
        return reader.ReadToEnd();
    }
}
