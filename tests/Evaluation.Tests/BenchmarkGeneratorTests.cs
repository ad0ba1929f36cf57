using System.Security.Cryptography;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Datasets;
using SkiaSharp;

namespace Platform.Evaluation.Tests;

public class BenchmarkGeneratorTests
{
    static readonly BenchmarkOptions Small = new() { Seed = 7, Images = 12, ImageSize = 48 };

    static Dictionary<string, string> Hashes(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void Same_seed_gives_byte_identical_files_and_another_seed_differs()
    {
        using var first = new TempFolder();
        using var second = new TempFolder();
        using var other = new TempFolder();
        BenchmarkGenerator.Generate(first.Path, Small, TestContext.Current.CancellationToken);
        BenchmarkGenerator.Generate(second.Path, Small, TestContext.Current.CancellationToken);
        BenchmarkGenerator.Generate(other.Path, Small with { Seed = 8 }, TestContext.Current.CancellationToken);

        var a = Hashes(first.Path);
        // 12 images, 3 files per split, the Karpathy file; SNLI-VE and NLVR2 files per split, NoCaps for val and test, two NLVR2 images per image
        Assert.Equal(12 + 3 * 3 + 1 + 2 * 3 + 2 + 2 * 12, a.Count);
        Assert.Equal(a, Hashes(second.Path));
        var c = Hashes(other.Path);
        Assert.Contains(a, pair => !c.TryGetValue(pair.Key, out var hash) || hash != pair.Value);
    }

    [Fact]
    public void Generated_files_load_through_the_coco_vqa_and_karpathy_readers()
    {
        using var folder = new TempFolder();
        var summary = BenchmarkGenerator.Generate(folder.Path, Small, TestContext.Current.CancellationToken);
        Assert.Equal(12, summary.ImagesPerSplit.Values.Sum());
        Assert.All(EvaluationDataLayout.Splits, s => Assert.True(summary.ImagesPerSplit[s] >= 1));

        var totalImages = 0;
        var disagreeing = 0;
        foreach (var split in EvaluationDataLayout.Splits)
        {
            var captions = DatasetReaders.ReadCocoCaptions(EvaluationDataLayout.CaptionsFile(folder.Path, split));
            Assert.Empty(captions.Skipped);
            Assert.Equal(summary.ImagesPerSplit[split], captions.Images.Count);
            totalImages += captions.Images.Count;
            foreach (var image in captions.Images)
            {
                Assert.Equal(5, captions.Captions[image.Id].Count);
                Assert.Equal(5, captions.Captions[image.Id].Distinct().Count());
                using var bitmap = SKBitmap.Decode(Path.Combine(EvaluationDataLayout.ImagesFolder(folder.Path, split), image.FileName));
                Assert.Equal(48, bitmap.Width);
                Assert.Equal(48, bitmap.Height);
            }

            var vqa = DatasetReaders.ReadVqa(EvaluationDataLayout.VqaQuestionsFile(folder.Path, split), EvaluationDataLayout.VqaAnnotationsFile(folder.Path, split));
            Assert.Empty(vqa.Skipped);
            Assert.Equal(3 * captions.Images.Count, vqa.Questions.Count);
            Assert.Equal(vqa.Questions.Count, vqa.Annotations.Count);
            Assert.All(vqa.Annotations.Values, a => Assert.Equal(10, a.Answers.Count));
            Assert.All(vqa.Annotations.Values, a => Assert.Contains(a.AnswerType, new[] { "yes/no", "number", "other" }));
            disagreeing += vqa.Annotations.Values.Count(a => a.Answers.Distinct().Count() > 1);

            var karpathy = DatasetReaders.ReadKarpathySplit(EvaluationDataLayout.KarpathySplitsFile(folder.Path), split);
            Assert.Equal(captions.Images.Select(i => i.Id).Order(), karpathy.Images.Select(i => i.Id).Order());
            Assert.Equal(captions.Images.Count * 5, RetrievalSet.FromCaptions(karpathy).Texts.Count);
        }
        Assert.Equal(12, totalImages);
        Assert.True(disagreeing > 0, "some questions must carry disagreeing human answers");
        Assert.Equal(summary.QuestionsWithDisagreement, disagreeing);
    }

    [Fact]
    public void Ground_truth_results_score_through_the_results_scorer()
    {
        using var folder = new TempFolder();
        BenchmarkGenerator.Generate(folder.Path, Small with { Images = 20 }, TestContext.Current.CancellationToken);
        var vqa = DatasetReaders.ReadVqa(EvaluationDataLayout.VqaQuestionsFile(folder.Path, "train"), EvaluationDataLayout.VqaAnnotationsFile(folder.Path, "train"));
        // The majority answer of at least 7 agreeing annotators: every leave-one-out subset holds >= 6 -> accuracy 100.
        var scores = ResultsScoring.ScoreVqa(
            vqa.Annotations.Values.Select(a => new VqaResultRecord { QuestionId = a.QuestionId, Answer = a.MultipleChoiceAnswer }).ToArray(), vqa, "train");
        Assert.Equal(100.0, scores.Scores[0].Value, 1e-9);

        var captions = DatasetReaders.ReadCocoCaptions(EvaluationDataLayout.CaptionsFile(folder.Path, "train"));
        var captionScores = ResultsScoring.ScoreCaptions(
            captions.Images.Select(i => new CaptionResultRecord { ImageId = i.Id, Caption = captions.Captions[i.Id][0] }).ToArray(), captions, "train");
        // A caption that is one of the references matches itself: ROUGE-L precision and recall 1 for every image.
        Assert.Equal(1.0, captionScores.Scores.Single(s => s.Key == "ROUGE_L").Value, 1e-12);
    }

    [Fact]
    public void Rendered_pixels_show_each_object_in_its_described_colour()
    {
        var random = new Random(3);
        for (var sample = 0; sample < 20; sample++)
        {
            var scene = BenchmarkGenerator.SampleScene(Small, random);
            using var bitmap = SKBitmap.Decode(scene.RenderPng(96));
            foreach (var o in scene.Objects)
            {
                var (x, y) = o.Centre(96);
                var pixel = bitmap.GetPixel((int)x, (int)y);
                Assert.Equal((o.Colour.Red, o.Colour.Green, o.Colour.Blue), (pixel.Red, pixel.Green, pixel.Blue));
            }
        }
    }

    [Fact]
    public void Captions_and_questions_mention_only_what_the_scene_holds()
    {
        var random = new Random(11);
        for (var sample = 0; sample < 50; sample++)
        {
            var scene = BenchmarkGenerator.SampleScene(Small, random);
            foreach (var question in SceneLanguage.Questions(scene, BenchmarkVocabulary.Default, random))
            {
                if (question.QuestionType == "what color is the")
                {
                    var shape = question.Question["What color is the ".Length..^1];
                    Assert.Equal(question.Answer, scene.Objects.Single(o => o.ShapeWord == shape).Colour.Name);
                }
                if (question.Question == "How many objects are in the image?")
                    Assert.Equal(scene.Objects.Count.ToString(), question.Answer);
            }
            foreach (var caption in SceneLanguage.Captions(scene, 5, random))
            {
                foreach (var colour in BenchmarkVocabulary.Default.Colours.Where(c => caption.Contains(c.Name, StringComparison.OrdinalIgnoreCase)))
                    Assert.Contains(scene.Objects, o => o.Colour == colour);
                // "<colour> <shape> in the <place>" must name an object that is at that place.
                var placed = System.Text.RegularExpressions.Regex.Match(caption.ToLowerInvariant(),
                    @"(\w+) (circle|square|triangle|diamond|cross) in the (top left|top center|top right|middle left|center|middle right|bottom left|bottom center|bottom right)\b");
                if (placed.Success)
                    Assert.Contains(scene.Objects, o => o.Colour.Name == placed.Groups[1].Value && o.ShapeWord == placed.Groups[2].Value && o.PlaceWords == placed.Groups[3].Value);
            }
        }
    }

    [Fact]
    public void A_vocabulary_file_limits_the_words_and_colours_used()
    {
        using var folder = new TempFolder();
        var path = folder.Write("vocabulary.json", """
            {"colours": [{"name": "teal", "red": 0, "green": 128, "blue": 128}, {"name": "pink", "red": 255, "green": 105, "blue": 180}],
             "shapes": ["circle", "cross"],
             "sizes": [{"name": "tiny", "radiusFraction": 0.3}, {"name": "huge", "radiusFraction": 1.0}]}
            """);
        var vocabulary = BenchmarkVocabulary.Load(path);
        Assert.Equal(["teal", "pink"], vocabulary.Colours.Select(c => c.Name));
        Assert.Equal([ShapeKind.Circle, ShapeKind.Cross], vocabulary.Shapes);

        BenchmarkGenerator.Generate(Path.Combine(folder.Path, "out"), Small with { Vocabulary = vocabulary }, TestContext.Current.CancellationToken);
        var captions = DatasetReaders.ReadCocoCaptions(EvaluationDataLayout.CaptionsFile(Path.Combine(folder.Path, "out"), "train"));
        var words = captions.Captions.Values.SelectMany(c => c).SelectMany(c => c.ToLowerInvariant().Split(' ', ',', '.')).ToHashSet();
        Assert.Contains("teal", words);
        Assert.DoesNotContain("red", words);
        Assert.DoesNotContain("square", words);
        Assert.DoesNotContain("small", words);

        var broken = folder.Write("broken.json", """{"colours": []}""");
        Assert.Contains("needs", Assert.Throws<ArgumentException>(() => BenchmarkVocabulary.Load(broken)).Message);
    }

    [Fact]
    public void Invalid_options_are_rejected_with_a_reason()
    {
        using var folder = new TempFolder();
        Assert.Contains("at least 3", Assert.Throws<ArgumentException>(() => BenchmarkGenerator.Generate(folder.Path, Small with { Images = 2 }, TestContext.Current.CancellationToken)).Message);
        Assert.Contains("MaxObjects", Assert.Throws<ArgumentException>(() => BenchmarkGenerator.Generate(folder.Path, Small with { MaxObjects = 10 }, TestContext.Current.CancellationToken)).Message);
    }
}
