namespace Platform.Ingestion.Images;

/// <summary>Counts the scans (SOS segments) of a JPEG by walking its markers, in one pass and without decoding.</summary>
public static class JpegScans
{
    private const byte StartOfScan = 0xDA;
    private const byte EndOfImage = 0xD9;

    /// <summary>The number of scans, counting no further than <paramref name="stopAt"/>.</summary>
    public static int Count(ReadOnlySpan<byte> jpeg, int stopAt = int.MaxValue)
    {
        var scans = 0;
        var i = 2; // after SOI
        while (i + 1 < jpeg.Length && scans < stopAt)
        {
            if (jpeg[i] != 0xFF)
            {
                i++;
                continue;
            }
            var marker = jpeg[i + 1];
            // 0xFF fill bytes, stuffed 0xFF00 and restart markers carry no length.
            if (marker is 0xFF) { i++; continue; }
            if (marker is 0x00 or 0x01 or (>= 0xD0 and <= 0xD7)) { i += 2; continue; }
            if (marker == EndOfImage) break;
            if (i + 3 >= jpeg.Length) break;
            var length = (jpeg[i + 2] << 8) | jpeg[i + 3];
            if (marker == StartOfScan) scans++;
            // After a scan header comes entropy-coded data, walked byte by byte above until the next marker.
            i += 2 + Math.Max(length, 2);
        }
        return scans;
    }
}
