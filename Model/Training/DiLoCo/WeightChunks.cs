using System.Text;

namespace Platform.Model.Training.DiLoCo;

/// <summary>A contiguous run of one named array's values, as one chunk carries it.</summary>
public sealed record ChunkPiece(string Name, long TotalLength, long Offset, float[] Values);

/// <summary>
/// Cuts named float arrays (a state dict, a pseudo-gradient) into self-describing binary chunks of at
/// most a given size, and puts them back together. Chunks exist because no single message or blob
/// write should carry a whole model: Orleans rejects messages over its size limit, and a lost upload
/// then costs one chunk, not the round. A chunk names the arrays it holds a slice of, so chunks may
/// arrive in any order and be read one at a time.
/// </summary>
public static class WeightChunks
{
    private static readonly byte[] Magic = "DLC1"u8.ToArray();
    private const int ChunkHeaderBytes = 4 + 1 + 4;

    /// <summary>Bytes per value on the wire.</summary>
    public static int BytesPerValue(string precision) => precision == SyncPrecisions.Bf16 ? 2 : 4;

    /// <summary>
    /// The chunks of <paramref name="arrays"/>, each at most <paramref name="maxChunkBytes"/> long; an array
    /// larger than a chunk spans several. In bf16, values are rounded to nearest even.
    /// </summary>
    public static IEnumerable<byte[]> Split(IReadOnlyList<NamedArray> arrays, string precision, int maxChunkBytes)
    {
        SyncPrecisions.Validate(precision);
        int valueBytes = BytesPerValue(precision);
        int smallest = ChunkHeaderBytes + arrays.Select(a => PieceHeaderBytes(a.Name)).DefaultIfEmpty(0).Max() + valueBytes;
        if (maxChunkBytes < smallest) throw new ArgumentOutOfRangeException(nameof(maxChunkBytes), $"A chunk of {maxChunkBytes} bytes cannot hold one value of every array (needs {smallest}).");

        var pieces = new List<(NamedArray Array, int Offset, int Count)>();
        int used = ChunkHeaderBytes;
        foreach (var array in arrays)
        {
            // Every array gets a piece, an empty one included: a full chunk is sent first, and the array still goes in the next.
            int offset = 0;
            while (true)
            {
                int room = (maxChunkBytes - used - PieceHeaderBytes(array.Name)) / valueBytes;
                if (room < 1)
                {
                    yield return Write(pieces, precision);
                    pieces.Clear();
                    used = ChunkHeaderBytes;
                    continue;
                }
                int count = Math.Min(room, array.Values.Length - offset);
                pieces.Add((array, offset, count));
                used += PieceHeaderBytes(array.Name) + count * valueBytes;
                offset += count;
                if (offset >= array.Values.Length) break;
            }
        }
        if (pieces.Count > 0) yield return Write(pieces, precision);
    }

    private static int PieceHeaderBytes(string name)
    {
        int nameBytes = Encoding.UTF8.GetByteCount(name);
        // BinaryWriter's string: a 7-bit encoded length, then UTF-8; then total length, offset, count.
        int lengthPrefix = 1;
        for (int rest = nameBytes >> 7; rest > 0; rest >>= 7) lengthPrefix++;
        return lengthPrefix + nameBytes + 8 + 8 + 4;
    }

    private static byte[] Write(List<(NamedArray Array, int Offset, int Count)> pieces, string precision)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(precision == SyncPrecisions.Bf16 ? (byte)1 : (byte)0);
            writer.Write(pieces.Count);
            foreach (var (array, offset, count) in pieces)
            {
                writer.Write(array.Name);
                writer.Write((long)array.Values.Length);
                writer.Write((long)offset);
                writer.Write(count);
                var values = array.Values.AsSpan(offset, count);
                if (precision == SyncPrecisions.Bf16)
                    foreach (float value in values) writer.Write(ToBFloat16(value));
                else
                    foreach (float value in values) writer.Write(value);
            }
        }
        return stream.ToArray();
    }

    /// <summary>The slices one chunk holds, widened back to float32.</summary>
    public static IReadOnlyList<ChunkPiece> Read(byte[] chunk)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(chunk), Encoding.UTF8);
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException("Not a weight chunk (wrong magic).");
            bool bf16 = reader.ReadByte() switch
            {
                0 => false,
                1 => true,
                var other => throw new InvalidDataException($"Unknown chunk precision {other}."),
            };
            int pieceCount = reader.ReadInt32();
            if (pieceCount < 0) throw new InvalidDataException("Negative piece count.");
            var pieces = new List<ChunkPiece>(pieceCount);
            for (int p = 0; p < pieceCount; p++)
            {
                string name = reader.ReadString();
                long total = reader.ReadInt64(), offset = reader.ReadInt64();
                int count = reader.ReadInt32();
                if (total < 0 || offset < 0 || count < 0 || offset + count > total) throw new InvalidDataException($"Piece '{name}' [{offset}, +{count}) lies outside its {total} values.");
                var values = new float[count];
                for (int i = 0; i < count; i++) values[i] = bf16 ? FromBFloat16(reader.ReadUInt16()) : reader.ReadSingle();
                pieces.Add(new ChunkPiece(name, total, offset, values));
            }
            if (reader.BaseStream.Position != chunk.Length) throw new InvalidDataException("Trailing bytes after the last piece.");
            return pieces;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The chunk is cut short.", e);
        }
    }

    /// <summary>
    /// The arrays that <paramref name="chunks"/> (in any order) hold, in the order their names first appear
    /// in the chunks' own order; throws unless every value of every array arrived exactly once.
    /// </summary>
    public static IReadOnlyList<NamedArray> Assemble(IEnumerable<byte[]> chunks)
    {
        var arrays = new Dictionary<string, (float[] Values, bool[] Seen, long Filled)>();
        var order = new List<string>();
        foreach (var piece in chunks.SelectMany(Read))
        {
            if (!arrays.TryGetValue(piece.Name, out var entry))
            {
                entry = (new float[piece.TotalLength], new bool[piece.TotalLength], 0);
                order.Add(piece.Name);
            }
            else if (entry.Values.Length != piece.TotalLength) throw new InvalidDataException($"Chunks disagree on the length of '{piece.Name}'.");
            for (int i = 0; i < piece.Values.Length; i++)
            {
                long at = piece.Offset + i;
                if (entry.Seen[at]) throw new InvalidDataException($"Value {at} of '{piece.Name}' arrived twice.");
                entry.Seen[at] = true;
                entry.Values[at] = piece.Values[i];
            }
            arrays[piece.Name] = (entry.Values, entry.Seen, entry.Filled + piece.Values.Length);
        }
        foreach (var (name, entry) in arrays)
            if (entry.Filled != entry.Values.Length) throw new InvalidDataException($"'{name}' is missing {entry.Values.Length - entry.Filled} of its {entry.Values.Length} values.");
        return order.Select(name => new NamedArray(name, arrays[name].Values)).ToArray();
    }

    /// <summary>float32 to bfloat16 (its upper 16 bits), rounding to nearest even; NaN stays NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)(bits >> 16);
    }

    public static float FromBFloat16(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);
}
