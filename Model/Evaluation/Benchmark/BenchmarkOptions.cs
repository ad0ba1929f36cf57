using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Model.Evaluation.Benchmark;

/// <summary>A colour word and the RGB value it is drawn with.</summary>
public sealed record ColourWord(string Name, byte Red, byte Green, byte Blue);

/// <summary>A size word and the object's radius as a fraction of a grid cell's half-width.</summary>
public sealed record SizeWord(string Name, double RadiusFraction);

/// <summary>The words scenes are built from; every word used in captions and answers comes from here.</summary>
public sealed record BenchmarkVocabulary(IReadOnlyList<ColourWord> Colours, IReadOnlyList<ShapeKind> Shapes, IReadOnlyList<SizeWord> Sizes)
{
    /// <summary>Six well-separated colours, every drawable shape, small and large.</summary>
    public static BenchmarkVocabulary Default { get; } = new(
        [
            new("red", 220, 30, 30), new("green", 30, 160, 40), new("blue", 30, 60, 220),
            new("yellow", 235, 200, 20), new("purple", 130, 40, 170), new("orange", 245, 130, 20),
        ],
        Enum.GetValues<ShapeKind>(),
        [new("small", 0.45), new("large", 0.85)]);

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    /// <summary>
    /// Reads a vocabulary file: {"colours": [{"name": "red", "red": 220, "green": 30, "blue": 30}, ...],
    /// "shapes": ["circle", "square", ...], "sizes": [{"name": "small", "radiusFraction": 0.45}, ...]}.
    /// </summary>
    public static BenchmarkVocabulary Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Vocabulary file {path} does not exist: give a JSON file of colours, shapes and sizes, or leave --vocabulary out for the default.", path);
        BenchmarkVocabulary? vocabulary;
        try
        {
            vocabulary = JsonSerializer.Deserialize<BenchmarkVocabulary>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{path}: not a vocabulary file ({e.Message})", nameof(path), e);
        }
        if (vocabulary?.Colours is null || vocabulary.Shapes is null || vocabulary.Sizes is null)
            throw new ArgumentException($"{path}: a vocabulary file needs \"colours\", \"shapes\" and \"sizes\".", nameof(path));
        vocabulary.Validate();
        return vocabulary;
    }

    public void Validate()
    {
        if (Colours.Count < 2) throw new ArgumentException("The vocabulary needs at least two colours (answers must be able to disagree).");
        if (Shapes.Count < 2) throw new ArgumentException("The vocabulary needs at least two shapes.");
        if (Sizes.Count < 1) throw new ArgumentException("The vocabulary needs at least one size word.");
        if (Colours.Select(c => c.Name).Distinct().Count() != Colours.Count) throw new ArgumentException("Colour names must be distinct.");
        if (Colours.Any(c => string.IsNullOrWhiteSpace(c.Name)) || Sizes.Any(s => string.IsNullOrWhiteSpace(s.Name))) throw new ArgumentException("Colour and size names must not be empty.");
        if (Shapes.Distinct().Count() != Shapes.Count) throw new ArgumentException("Shapes must be distinct.");
        if (Sizes.Any(s => s.RadiusFraction is <= 0 or > 1)) throw new ArgumentException("Size radius fractions must be in (0, 1].");
    }
}

/// <summary>The shapes the renderer can draw.</summary>
public enum ShapeKind
{
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}

/// <summary>Settings of the offline captioning/VQA benchmark generator.</summary>
public sealed record BenchmarkOptions
{
    /// <summary>Seed; the same seed and options give byte-identical files. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Images over all splits. Default 200.</summary>
    public int Images { get; init; } = 200;

    /// <summary>Side of the square images in pixels. Default 128.</summary>
    public int ImageSize { get; init; } = 128;

    /// <summary>Share of images in the val split. Default 0.1.</summary>
    public double ValFraction { get; init; } = 0.1;

    /// <summary>Share of images in the test split. Default 0.1 (the rest is train).</summary>
    public double TestFraction { get; init; } = 0.1;

    /// <summary>Fewest objects per scene. Default 1.</summary>
    public int MinObjects { get; init; } = 1;

    /// <summary>Most objects per scene (at most 9: one per cell of a 3x3 grid). Default 4.</summary>
    public int MaxObjects { get; init; } = 4;

    /// <summary>Reference captions per image. Default 5, as in COCO.</summary>
    public int CaptionsPerImage { get; init; } = 5;

    /// <summary>Questions per image. Default 3, as in VQAv2.</summary>
    public int QuestionsPerImage { get; init; } = 3;

    /// <summary>Human answers per question. Default 10, as in VQAv2.</summary>
    public int AnswersPerQuestion { get; init; } = 10;

    /// <summary>Chance that a question's annotators disagree at all. Default 0.4.</summary>
    public double DisagreementRate { get; init; } = 0.4;

    public BenchmarkVocabulary Vocabulary { get; init; } = BenchmarkVocabulary.Default;

    public void Validate()
    {
        if (Images < 3) throw new ArgumentException("Images must be at least 3 (one per split).");
        if (ImageSize is < 16 or > 2048) throw new ArgumentException("ImageSize must be between 16 and 2048 pixels.");
        if (ValFraction < 0 || TestFraction < 0 || ValFraction + TestFraction >= 1) throw new ArgumentException("ValFraction and TestFraction must be >= 0 and sum to less than 1.");
        if (MinObjects < 1 || MaxObjects > 9 || MinObjects > MaxObjects) throw new ArgumentException("Objects per scene must satisfy 1 <= MinObjects <= MaxObjects <= 9.");
        if (CaptionsPerImage < 1) throw new ArgumentException("CaptionsPerImage must be at least 1.");
        if (QuestionsPerImage < 1) throw new ArgumentException("QuestionsPerImage must be at least 1.");
        if (AnswersPerQuestion < 2) throw new ArgumentException("AnswersPerQuestion must be at least 2.");
        if (DisagreementRate is < 0 or > 1) throw new ArgumentException("DisagreementRate must be in [0, 1].");
        Vocabulary.Validate();
    }
}
