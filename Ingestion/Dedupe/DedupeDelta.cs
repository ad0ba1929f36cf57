namespace Platform.Ingestion.Dedupe;

/// <summary>
/// What one shard added to the dedupe state. Persisted beside the shard and committed with it, so the state
/// a run loads is exactly the union of committed shards: a shard redone after a crash sees the same state
/// it saw the first time.
/// </summary>
public sealed class DedupeDelta
{
    private const int FormatVersion = 2;

    public List<UInt128> UrlKeys { get; } = [];
    public List<UInt128> ImageKeys { get; } = [];
    public List<ulong> ImageHashes { get; } = [];
    public List<ulong[]> TextSignatures { get; } = [];
    public List<UInt128> CaptionKeys { get; } = [];

    public void WriteTo(Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(FormatVersion);
        WriteKeys(writer, UrlKeys);
        WriteKeys(writer, ImageKeys);
        writer.Write(ImageHashes.Count);
        foreach (var h in ImageHashes) writer.Write(h);
        writer.Write(TextSignatures.Count);
        foreach (var signature in TextSignatures)
        {
            writer.Write(signature.Length);
            foreach (var v in signature) writer.Write(v);
        }
        WriteKeys(writer, CaptionKeys);
    }

    public static DedupeDelta ReadFrom(Stream stream)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        var version = reader.ReadInt32();
        if (version != FormatVersion) throw new InvalidDataException($"dedupe state version {version} is not {FormatVersion}");
        var delta = new DedupeDelta();
        ReadKeys(reader, delta.UrlKeys);
        ReadKeys(reader, delta.ImageKeys);
        var hashes = reader.ReadInt32();
        for (var i = 0; i < hashes; i++) delta.ImageHashes.Add(reader.ReadUInt64());
        var signatures = reader.ReadInt32();
        for (var i = 0; i < signatures; i++)
        {
            var signature = new ulong[reader.ReadInt32()];
            for (var j = 0; j < signature.Length; j++) signature[j] = reader.ReadUInt64();
            delta.TextSignatures.Add(signature);
        }
        ReadKeys(reader, delta.CaptionKeys);
        return delta;
    }

    private static void WriteKeys(BinaryWriter writer, List<UInt128> keys)
    {
        writer.Write(keys.Count);
        foreach (var key in keys)
        {
            writer.Write((ulong)(key >> 64));
            writer.Write((ulong)key);
        }
    }

    private static void ReadKeys(BinaryReader reader, List<UInt128> keys)
    {
        var count = reader.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            var upper = reader.ReadUInt64();
            keys.Add(new UInt128(upper, reader.ReadUInt64()));
        }
    }
}
