using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Model.Evaluation.Datasets;

namespace Platform.Model.Evaluation.Benchmark;

/// <summary>A generated scene with where its image was written.</summary>
public sealed record GeneratedImage(string Split, long ImageId, string FileName, Scene Scene);

/// <summary>How many examples of the understanding and NoCaps tasks the generator wrote.</summary>
public sealed record TaskBenchmarkSummary(int EntailmentPairs, int Nlvr2Statements, int NoCapsImages);

/// <summary>
/// The offline SNLI-VE, NLVR2 and NoCaps data over the benchmark's scenes, in the tasks' own file
/// formats: snli_ve_{split}.jsonl (the premise image named by Flickr30K_ID, here the scene's file stem),
/// NLVR2's {split}.json lines with images {identifier minus sentence index}-img0/img1.png in nlvr2/{split}/, and
/// nocaps_{val,test}.json (COCO captions with a domain per image). Drawn from a random stream of
/// their own, so the captioning and VQA files stay what they were for a seed.
/// </summary>
public static class TaskBenchmarks
{
    static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    static readonly string[] CountWords = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

    public static TaskBenchmarkSummary Generate(string outputRoot, BenchmarkOptions options, IReadOnlyList<GeneratedImage> images)
    {
        var random = new Random(options.Seed ^ 0x5EED7A5);
        int entailment = 0, statements = 0, noCaps = 0;
        foreach (var split in EvaluationDataLayout.Splits)
        {
            var inSplit = images.Where(i => i.Split == split).ToArray();
            entailment += WriteSnliVe(outputRoot, split, inSplit, options.Vocabulary, random);
            statements += WriteNlvr2(outputRoot, split, inSplit, options.Vocabulary, random);
            if (split != "train") noCaps += WriteNoCaps(outputRoot, split, inSplit, options, random);
        }
        return new TaskBenchmarkSummary(entailment, statements, noCaps);
    }

    /// <summary>Three hypotheses per image, one of each label: a true statement, a false one, one the picture cannot settle.</summary>
    static int WriteSnliVe(string root, string split, IReadOnlyList<GeneratedImage> images, BenchmarkVocabulary vocabulary, Random random)
    {
        var lines = new StringBuilder();
        int count = 0;
        foreach (var image in images)
        {
            var scene = image.Scene;
            var present = scene.Objects[random.Next(scene.Objects.Count)];
            var absent = vocabulary.Colours.SelectMany(c => vocabulary.Shapes.Select(s => (Colour: c, Shape: s)))
                .Where(p => !scene.Objects.Any(o => o.Colour == p.Colour && o.Shape == p.Shape)).ToArray();
            var (absentColour, absentShape) = absent[random.Next(absent.Length)];
            var hypotheses = new (string Label, string Text)[]
            {
                ("entailment", random.Next(2) == 0 ? $"There is a {present.Colour.Name} {present.ShapeWord}." : $"The picture shows {CountWords[scene.Objects.Count]} {(scene.Objects.Count == 1 ? "shape" : "shapes")}."),
                ("contradiction", random.Next(2) == 0 ? $"There is a {absentColour.Name} {absentShape.ToString().ToLowerInvariant()}." : $"The picture shows {CountWords[scene.Objects.Count + 1]} shapes."),
                ("neutral", random.Next(2) == 0 ? $"The {present.Colour.Name} {present.ShapeWord} was drawn by a child." : $"Someone made this picture of a {present.ShapeWord} in the morning."),
            };
            foreach (var (label, text) in hypotheses.OrderBy(_ => random.Next()))
            {
                var stem = Path.GetFileNameWithoutExtension(image.FileName);
                lines.Append(JsonSerializer.Serialize(new SnliVeRecord
                {
                    Flickr30kId = stem, PairId = $"{stem}#{count}", Premise = null, Hypothesis = text, GoldLabel = label,
                }, Json)).Append('\n');
                count++;
            }
        }
        WriteText(Path.Combine(root, "annotations", $"snli_ve_{split}.jsonl"), lines.ToString());
        return count;
    }

    /// <summary>
    /// Each image paired with the next of its split (the image itself in a one-image split), both copied
    /// under NLVR2's names into nlvr2/{split}/ (the split's own image folder keeps one file per image); two statements per pair, each true or false of the pair as drawn.
    /// </summary>
    static int WriteNlvr2(string root, string split, IReadOnlyList<GeneratedImage> images, BenchmarkVocabulary vocabulary, Random random)
    {
        var lines = new StringBuilder();
        var sources = EvaluationDataLayout.ImagesFolder(root, split);
        var folder = EvaluationDataLayout.Nlvr2ImagesFolder(root, split);
        Directory.CreateDirectory(folder);
        int count = 0;
        for (int pair = 0; pair < images.Count; pair++)
        {
            var (left, right) = (images[pair], images[(pair + 1) % images.Count]);
            string prefix = $"{split}-0-{pair.ToString(CultureInfo.InvariantCulture)}";
            File.Copy(Path.Combine(sources, left.FileName), Path.Combine(folder, $"{prefix}-img0.png"), overwrite: true);
            File.Copy(Path.Combine(sources, right.FileName), Path.Combine(folder, $"{prefix}-img1.png"), overwrite: true);
            var colour = vocabulary.Colours[random.Next(vocabulary.Colours.Count)];
            var shape = vocabulary.Shapes[random.Next(vocabulary.Shapes.Count)];
            string shapeWord = shape.ToString().ToLowerInvariant();
            bool leftHasColour = left.Scene.Objects.Any(o => o.Colour == colour), rightHasColour = right.Scene.Objects.Any(o => o.Colour == colour);
            bool leftHasShape = left.Scene.Objects.Any(o => o.Shape == shape), rightHasShape = right.Scene.Objects.Any(o => o.Shape == shape);
            bool leftHasMore = left.Scene.Objects.Count > right.Scene.Objects.Count;
            // Each statement beside its negation, so that every pair offers a true and a false one.
            var candidates = new (string Sentence, bool Holds)[]
            {
                ("The left image has more shapes than the right image.", leftHasMore),
                ("The left image has no more shapes than the right image.", !leftHasMore),
                ($"Both images contain a {colour.Name} object.", leftHasColour && rightHasColour),
                ($"At least one image has no {colour.Name} object.", !(leftHasColour && rightHasColour)),
                ($"Exactly one image contains a {shapeWord}.", leftHasShape != rightHasShape),
                ($"There is a {shapeWord} in the right image.", rightHasShape),
                ($"There is no {shapeWord} in the right image.", !rightHasShape),
            };
            // One true and one false statement per pair, so that guessing one label scores half.
            var chosen = new[] { true, false }
                .Select(wanted => candidates.Where(c => c.Holds == wanted).OrderBy(_ => random.Next()).FirstOrDefault())
                .Where(c => c.Sentence is not null).ToArray();
            for (int sentence = 0; sentence < chosen.Length; sentence++)
            {
                lines.Append(JsonSerializer.Serialize(new Nlvr2Record
                {
                    Identifier = $"{prefix}-{sentence.ToString(CultureInfo.InvariantCulture)}", Sentence = chosen[sentence].Sentence,
                    Label = chosen[sentence].Holds ? "True" : "False",
                }, Json)).Append('\n');
                count++;
            }
        }
        WriteText(Path.Combine(root, "annotations", $"{split}.json"), lines.ToString());
        return count;
    }

    /// <summary>
    /// NoCaps-style captions of the split's images: "in-domain" when every shape is one of the
    /// vocabulary's first half, "out-domain" when none is, "near-domain" otherwise.
    /// </summary>
    static int WriteNoCaps(string root, string split, IReadOnlyList<GeneratedImage> images, BenchmarkOptions options, Random random)
    {
        var common = options.Vocabulary.Shapes.Take((options.Vocabulary.Shapes.Count + 1) / 2).ToHashSet();
        var records = new List<CocoImageRecord>();
        var captions = new List<CocoCaptionRecord>();
        foreach (var image in images)
        {
            int inCommon = image.Scene.Objects.Count(o => common.Contains(o.Shape));
            string domain = inCommon == image.Scene.Objects.Count ? "in-domain" : inCommon == 0 ? "out-domain" : "near-domain";
            records.Add(new CocoImageRecord { Id = image.ImageId, FileName = image.FileName, Width = options.ImageSize, Height = options.ImageSize, Domain = domain });
            foreach (var caption in SceneLanguage.Captions(image.Scene, options.CaptionsPerImage, random))
                captions.Add(new CocoCaptionRecord { ImageId = image.ImageId, Id = captions.Count + 1, Caption = caption });
        }
        var file = new CocoCaptionFile { Info = new CocoInfo { Description = "Synthetic NoCaps-style captions", Version = "1.0", Year = 2026 }, Images = records, Annotations = captions };
        var path = Path.Combine(root, "annotations", $"nocaps_{split}.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(file, Json));
        return records.Count;
    }

    static void WriteText(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text, new UTF8Encoding(false));
    }
}
