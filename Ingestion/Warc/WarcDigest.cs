using System.Security.Cryptography;

namespace Platform.Ingestion.Warc;

/// <summary>`sha1:BASE32` digests as WARC writers (wget, warcio, Common Crawl) label blocks and payloads.</summary>
public static class WarcDigest
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    public static string Sha1Base32(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(data, hash);
        return "sha1:" + Base32(hash);
    }

    public static string Base32(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[(bytes.Length * 8 + 4) / 5];
        int bits = 0, value = 0, o = 0;
        foreach (var b in bytes)
        {
            value = (value << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[o++] = Alphabet[(value >> (bits - 5)) & 31];
                bits -= 5;
            }
        }
        if (bits > 0) chars[o++] = Alphabet[(value << (5 - bits)) & 31];
        return new string(chars, 0, o);
    }

    /// <summary>
    /// Whether <paramref name="declared"/> (e.g. `sha1:ABC...`, base32 or hex) matches the data.
    /// Null when the algorithm is not one we check, so callers count only real mismatches.
    /// </summary>
    public static bool? Matches(string declared, ReadOnlySpan<byte> data)
    {
        var colon = declared.IndexOf(':');
        if (colon < 0) return null;
        var algorithm = declared.AsSpan(0, colon).Trim();
        if (!algorithm.Equals("sha1", StringComparison.OrdinalIgnoreCase)) return null;
        var expected = declared.AsSpan(colon + 1).Trim();
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(data, hash);
        if (expected.Length == 32) return expected.Equals(Base32(hash), StringComparison.OrdinalIgnoreCase);
        if (expected.Length == 40) return expected.Equals(Convert.ToHexString(hash), StringComparison.OrdinalIgnoreCase);
        return false;
    }
}
