using Google.Protobuf;

namespace Platform.Model;

/// <summary>SentencePiece's piece types, with the numbers its ModelProto gives them.</summary>
public enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One piece of a SentencePiece model: its text (spaces as U+2581), score and type.</summary>
public readonly record struct SentencePieceEntry(string Piece, float Score, SentencePieceType Type);

/// <summary>
/// The parts of a SentencePiece model file (the ModelProto protobuf that SentencePiece's trainer writes as a
/// .model file) that encoding depends on. Read and written here so that a vocabulary the platform trains is a file
/// SentencePiece itself and Microsoft.ML.Tokenizers load unchanged, and so that the platform's own encoder can
/// check that it encodes a model exactly as they do. Absent fields take the defaults of SentencePiece's schema.
/// </summary>
public sealed record SentencePieceModelFile
{
    /// <summary>The word-boundary mark that stands for a space inside pieces.</summary>
    public const char WordBoundary = '\u2581';

    public const int UnigramModel = 1;
    public const int BpeModel = 2;

    public required IReadOnlyList<SentencePieceEntry> Pieces { get; init; }
    public int ModelType { get; init; } = UnigramModel;
    public bool ByteFallback { get; init; }
    public int UnknownId { get; init; }
    public int BeginningOfSentenceId { get; init; } = 1;
    public int EndOfSentenceId { get; init; } = 2;
    public int PadId { get; init; } = -1;
    public bool TreatWhitespaceAsSuffix { get; init; }
    public float CharacterCoverage { get; init; } = 0.9995f;
    public int MaxPieceLength { get; init; } = 16;
    public string NormalizerName { get; init; } = "nmt_nfkc";
    public bool HasPrecompiledCharsMap { get; init; }
    public bool AddDummyPrefix { get; init; } = true;
    public bool RemoveExtraWhitespaces { get; init; } = true;
    public bool EscapeWhitespaces { get; init; } = true;

    public static SentencePieceModelFile Parse(byte[] model)
    {
        var pieces = new List<SentencePieceEntry>();
        var file = new SentencePieceModelFile { Pieces = pieces };
        var input = new CodedInputStream(model);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: pieces.Add(ParsePiece(input.ReadBytes())); break;
                case 2: file = ParseTrainerSpec(input.ReadBytes(), file); break;
                case 3: file = ParseNormalizerSpec(input.ReadBytes(), file); break;
                default: input.SkipLastField(); break;
            }
        }
        return file;
    }

    private static SentencePieceEntry ParsePiece(ByteString bytes)
    {
        var input = bytes.CreateCodedInput();
        string piece = "";
        float score = 0;
        var type = SentencePieceType.Normal;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: piece = input.ReadString(); break;
                case 2: score = input.ReadFloat(); break;
                case 3: type = (SentencePieceType)input.ReadEnum(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new SentencePieceEntry(piece, score, type);
    }

    private static SentencePieceModelFile ParseTrainerSpec(ByteString bytes, SentencePieceModelFile file)
    {
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            file = WireFormat.GetTagFieldNumber(tag) switch
            {
                3 => file with { ModelType = input.ReadEnum() },
                10 => file with { CharacterCoverage = input.ReadFloat() },
                16 => file with { MaxPieceLength = input.ReadInt32() },
                24 => file with { TreatWhitespaceAsSuffix = input.ReadBool() },
                35 => file with { ByteFallback = input.ReadBool() },
                40 => file with { UnknownId = input.ReadInt32() },
                41 => file with { BeginningOfSentenceId = input.ReadInt32() },
                42 => file with { EndOfSentenceId = input.ReadInt32() },
                43 => file with { PadId = input.ReadInt32() },
                _ => Skip(input, file),
            };
        }
        return file;
    }

    private static SentencePieceModelFile ParseNormalizerSpec(ByteString bytes, SentencePieceModelFile file)
    {
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            file = WireFormat.GetTagFieldNumber(tag) switch
            {
                1 => file with { NormalizerName = input.ReadString() },
                2 => file with { HasPrecompiledCharsMap = input.ReadBytes().Length > 0 },
                3 => file with { AddDummyPrefix = input.ReadBool() },
                4 => file with { RemoveExtraWhitespaces = input.ReadBool() },
                5 => file with { EscapeWhitespaces = input.ReadBool() },
                _ => Skip(input, file),
            };
        }
        return file;
    }

    private static SentencePieceModelFile Skip(CodedInputStream input, SentencePieceModelFile file)
    {
        input.SkipLastField();
        return file;
    }

    /// <summary>The serialised ModelProto. Every field encoding depends on is written, defaults included, so readers need not agree on defaults.</summary>
    public byte[] ToBytes()
    {
        return Message(model =>
        {
            foreach (var piece in Pieces)
                Field(model, 1, Message(p =>
                {
                    p.WriteTag(1, WireFormat.WireType.LengthDelimited); p.WriteString(piece.Piece);
                    p.WriteTag(2, WireFormat.WireType.Fixed32); p.WriteFloat(piece.Score);
                    p.WriteTag(3, WireFormat.WireType.Varint); p.WriteEnum((int)piece.Type);
                }));
            Field(model, 2, Message(trainer =>
            {
                trainer.WriteTag(3, WireFormat.WireType.Varint); trainer.WriteEnum(ModelType);
                trainer.WriteTag(4, WireFormat.WireType.Varint); trainer.WriteInt32(Pieces.Count);
                trainer.WriteTag(10, WireFormat.WireType.Fixed32); trainer.WriteFloat(CharacterCoverage);
                trainer.WriteTag(16, WireFormat.WireType.Varint); trainer.WriteInt32(MaxPieceLength);
                trainer.WriteTag(24, WireFormat.WireType.Varint); trainer.WriteBool(TreatWhitespaceAsSuffix);
                trainer.WriteTag(35, WireFormat.WireType.Varint); trainer.WriteBool(ByteFallback);
                trainer.WriteTag(40, WireFormat.WireType.Varint); trainer.WriteInt32(UnknownId);
                trainer.WriteTag(41, WireFormat.WireType.Varint); trainer.WriteInt32(BeginningOfSentenceId);
                trainer.WriteTag(42, WireFormat.WireType.Varint); trainer.WriteInt32(EndOfSentenceId);
                trainer.WriteTag(43, WireFormat.WireType.Varint); trainer.WriteInt32(PadId);
            }));
            Field(model, 3, Message(normalizer =>
            {
                normalizer.WriteTag(1, WireFormat.WireType.LengthDelimited); normalizer.WriteString(NormalizerName);
                normalizer.WriteTag(3, WireFormat.WireType.Varint); normalizer.WriteBool(AddDummyPrefix);
                normalizer.WriteTag(4, WireFormat.WireType.Varint); normalizer.WriteBool(RemoveExtraWhitespaces);
                normalizer.WriteTag(5, WireFormat.WireType.Varint); normalizer.WriteBool(EscapeWhitespaces);
            }));
        });

        static byte[] Message(Action<CodedOutputStream> write)
        {
            var buffer = new MemoryStream();
            using (var output = new CodedOutputStream(buffer, leaveOpen: true)) write(output);
            return buffer.ToArray();
        }

        static void Field(CodedOutputStream output, int number, byte[] message)
        {
            output.WriteTag(number, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(message));
        }
    }
}
