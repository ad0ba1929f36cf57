using System.Security.Cryptography;
using System.Text;

namespace Platform.Ingestion.Dedupe;

/// <summary>128-bit fingerprints for the exact sets: uniform, so a distributed set can partition by prefix.</summary>
public static class DedupeKeys
{
    public static UInt128 OfUrl(string url) => FromDigest(SHA256.HashData(Encoding.UTF8.GetBytes(url.Trim())));

    public static UInt128 OfCaption(string caption) =>
        FromDigest(SHA256.HashData(Encoding.UTF8.GetBytes(caption.Trim().ToLowerInvariant())));

    public static UInt128 OfSha256Hex(string sha256Hex) => FromDigest(Convert.FromHexString(sha256Hex));

    private static UInt128 FromDigest(ReadOnlySpan<byte> digest) =>
        new(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(digest),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(digest[8..]));
}
