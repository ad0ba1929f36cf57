using System.Buffers.Binary;
using System.Runtime.InteropServices;
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
        bool bf16 = precision == SyncPrecisions.Bf16;
        int valueBytes = BytesPerValue(precision);
        var chunk = new byte[ChunkHeaderBytes + pieces.Sum(p => PieceHeaderBytes(p.Array.Name) + p.Count * valueBytes)];
        var writer = new SpanWriter(chunk);
        writer.Bytes(Magic);
        writer.Byte(bf16 ? (byte)1 : (byte)0);
        writer.Int32(pieces.Count);
        foreach (var (array, offset, count) in pieces)
        {
            writer.String(array.Name);
            writer.Int64(array.Values.Length);
            writer.Int64(offset);
            writer.Int32(count);
            var values = array.Values.AsSpan(offset, count);
            if (bf16) ToBFloat16(values, MemoryMarshal.Cast<byte, ushort>(writer.Take(count * 2)));
            else WriteLittleEndian(values, writer.Take(count * 4));
        }
        return chunk;
    }

    /// <summary>The slices one chunk holds, widened back to float32.</summary>
    public static IReadOnlyList<ChunkPiece> Read(byte[] chunk)
    {
        var reader = new SpanReader(chunk);
        if (!reader.Take(Magic.Length).SequenceEqual(Magic)) throw new InvalidDataException("Not a weight chunk (wrong magic).");
        bool bf16 = reader.Byte() switch
        {
            0 => false,
            1 => true,
            var other => throw new InvalidDataException($"Unknown chunk precision {other}."),
        };
        int pieceCount = reader.Int32();
        if (pieceCount < 0) throw new InvalidDataException("Negative piece count.");
        var pieces = new List<ChunkPiece>(Math.Min(pieceCount, 1024));
        for (int p = 0; p < pieceCount; p++)
        {
            string name = reader.String();
            long total = reader.Int64(), offset = reader.Int64();
            int count = reader.Int32();
            if (total < 0 || offset < 0 || count < 0 || offset + count > total) throw new InvalidDataException($"Piece '{name}' [{offset}, +{count}) lies outside its {total} values.");
            if ((long)count * (bf16 ? 2 : 4) > reader.Remaining) throw new InvalidDataException("The chunk is cut short.");
            var values = new float[count];
            if (bf16) FromBFloat16(MemoryMarshal.Cast<byte, ushort>(reader.Take(count * 2)), values);
            else ReadLittleEndian(reader.Take(count * 4), values);
            pieces.Add(new ChunkPiece(name, total, offset, values));
        }
        if (reader.Position != chunk.Length) throw new InvalidDataException("Trailing bytes after the last piece.");
        return pieces;
    }

    /// <summary>
    /// The arrays that <paramref name="chunks"/> (in any order) hold, in the order their names first appear
    /// in the chunks' own order; throws unless every value of every array arrived exactly once.
    /// </summary>
    public static IReadOnlyList<NamedArray> Assemble(IEnumerable<byte[]> chunks)
    {
        var arrays = new Dictionary<string, (float[] Values, List<(long Offset, int Count)> Pieces)>();
        var order = new List<string>();
        foreach (var piece in chunks.SelectMany(Read))
        {
            if (!arrays.TryGetValue(piece.Name, out var entry))
            {
                arrays[piece.Name] = entry = (new float[piece.TotalLength], []);
                order.Add(piece.Name);
            }
            else if (entry.Values.Length != piece.TotalLength) throw new InvalidDataException($"Chunks disagree on the length of '{piece.Name}'.");
            piece.Values.CopyTo(entry.Values.AsSpan((int)piece.Offset));
            entry.Pieces.Add((piece.Offset, piece.Values.Length));
        }
        foreach (var (name, entry) in arrays)
        {
            // Sorted by offset, the pieces must tile the array: a gap is a value missing, an overlap one that came twice.
            long next = 0;
            foreach (var (offset, count) in entry.Pieces.OrderBy(p => p.Offset).ThenBy(p => p.Count))
            {
                if (offset < next) throw new InvalidDataException($"Value {offset} of '{name}' arrived twice.");
                if (offset > next) throw new InvalidDataException($"'{name}' is missing values {next} to {offset - 1} of its {entry.Values.Length}.");
                next = offset + count;
            }
            if (next != entry.Values.Length) throw new InvalidDataException($"'{name}' is missing {entry.Values.Length - next} of its {entry.Values.Length} values.");
        }
        return order.Select(name => new NamedArray(name, arrays[name].Values)).ToArray();
    }

    /// <summary>float32 values as little-endian bytes, copied whole (as the wire format and BinaryWriter have them).</summary>
    public static void WriteLittleEndian(ReadOnlySpan<float> values, Span<byte> destination)
    {
        var bytes = MemoryMarshal.AsBytes(values);
        bytes.CopyTo(destination);
        if (!BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(destination[..bytes.Length]), MemoryMarshal.Cast<byte, uint>(destination[..bytes.Length]));
    }

    /// <summary>Little-endian float32 bytes back to values, copied whole.</summary>
    public static void ReadLittleEndian(ReadOnlySpan<byte> source, Span<float> values)
    {
        source.CopyTo(MemoryMarshal.AsBytes(values));
        if (!BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<float, uint>(values), MemoryMarshal.Cast<float, uint>(values));
    }

    /// <summary><see cref="ToBFloat16(float)"/> of every value, into little-endian 16-bit words.</summary>
    public static void ToBFloat16(ReadOnlySpan<float> values, Span<ushort> destination)
    {
        for (int i = 0; i < values.Length; i++) destination[i] = ToBFloat16(values[i]);
        if (!BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(destination[..values.Length], destination[..values.Length]);
    }

    /// <summary><see cref="FromBFloat16(ushort)"/> of every little-endian 16-bit word.</summary>
    public static void FromBFloat16(ReadOnlySpan<ushort> words, Span<float> values)
    {
        for (int i = 0; i < words.Length; i++)
            values[i] = FromBFloat16(BitConverter.IsLittleEndian ? words[i] : BinaryPrimitives.ReverseEndianness(words[i]));
    }

    /// <summary>Writes the header fields as BinaryWriter would (little-endian; strings with a 7-bit encoded length) into a buffer sized beforehand.</summary>
    private ref struct SpanWriter(Span<byte> buffer)
    {
        private readonly Span<byte> buffer = buffer;
        private int position;

        public Span<byte> Take(int count)
        {
            var taken = buffer.Slice(position, count);
            position += count;
            return taken;
        }

        public void Bytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));
        public void Byte(byte value) => Take(1)[0] = value;
        public void Int32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);
        public void Int64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), value);

        public void String(string value)
        {
            int length = Encoding.UTF8.GetByteCount(value);
            for (uint rest = (uint)length; ; rest >>= 7)
            {
                if (rest < 0x80) { Byte((byte)rest); break; }
                Byte((byte)(rest | 0x80));
            }
            Encoding.UTF8.GetBytes(value, Take(length));
        }
    }

    /// <summary>Reads what <see cref="SpanWriter"/> wrote; a chunk cut short is an <see cref="InvalidDataException"/>.</summary>
    private ref struct SpanReader(ReadOnlySpan<byte> buffer)
    {
        private readonly ReadOnlySpan<byte> buffer = buffer;

        public int Position { get; private set; }

        public int Remaining => buffer.Length - Position;

        public ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || count > buffer.Length - Position) throw new InvalidDataException("The chunk is cut short.");
            var taken = buffer.Slice(Position, count);
            Position += count;
            return taken;
        }

        public byte Byte() => Take(1)[0];
        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public string String()
        {
            int length = 0;
            for (int shift = 0; ; shift += 7)
            {
                if (shift > 28) throw new InvalidDataException("A name's length is malformed.");
                byte part = Byte();
                length |= (part & 0x7F) << shift;
                if (part < 0x80) break;
            }
            if (length < 0) throw new InvalidDataException("A name's length is malformed.");
            return Encoding.UTF8.GetString(Take(length));
        }
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
