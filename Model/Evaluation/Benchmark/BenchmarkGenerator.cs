using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Model.Evaluation.Captioning;
using Platform.Model.Evaluation.Datasets;

namespace Platform.Model.Evaluation.Benchmark;

/// <summary>What the generator wrote.</summary>
public sealed record BenchmarkSummary(IReadOnlyDictionary<string, int> ImagesPerSplit, int Captions, int Questions, int QuestionsWithDisagreement,
    TaskBenchmarkSummary? Tasks = null);

/// <summary>
/// Writes an offline captioning / VQA / retrieval benchmark of rendered shape scenes in the public
/// file formats (COCO captions, VQAv2 questions + annotations, a Karpathy-style split file; SNLI-VE,
/// NLVR2 and NoCaps files from <see cref="TaskBenchmarks"/>) under
/// <see cref="EvaluationDataLayout"/>, so the same readers and scorers serve it and the real sets.
/// Everything derives from one seeded generator and no clock, so a seed gives byte-identical files.
/// </summary>
public static class BenchmarkGenerator
{
    static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Draws one scene: distinct grid cells, random shape, colour, size and a small jitter.</summary>
    public static Scene SampleScene(BenchmarkOptions options, Random random)
    {
        var vocabulary = options.Vocabulary;
        var count = random.Next(options.MinObjects, options.MaxObjects + 1);
        var cells = Enumerable.Range(0, 9).OrderBy(_ => random.Next()).Take(count).ToArray();
        var objects = cells.Select(cell =>
        {
            var size = vocabulary.Sizes[random.Next(vocabulary.Sizes.Count)];
            // Jitter keeps the object inside its cell: at most (1 - radius fraction) of the free margin.
            var slack = (1 - size.RadiusFraction * 0.9) * 0.5 * 0.8;
            return new SceneObject(
                vocabulary.Shapes[random.Next(vocabulary.Shapes.Count)],
                vocabulary.Colours[random.Next(vocabulary.Colours.Count)],
                size, cell % 3, cell / 3,
                (random.NextDouble() * 2 - 1) * slack, (random.NextDouble() * 2 - 1) * slack);
        }).ToArray();
        return new Scene(objects);
    }

    public static BenchmarkSummary Generate(string outputRoot, BenchmarkOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outputRoot);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var random = new Random(options.Seed);

        var splitOfImage = AssignSplits(options, random);
        var perSplit = EvaluationDataLayout.Splits.ToDictionary(s => s, _ => new SplitFiles());
        var karpathy = new List<KarpathyImageRecord>();
        long captionId = 0;
        var totalQuestions = 0;
        var disagreements = 0;
        var generated = new List<GeneratedImage>();

        for (var index = 0; index < options.Images; index++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var split = splitOfImage[index];
            var files = perSplit[split];
            var imageId = index + 1L;
            var fileName = $"synth_{split}_{imageId:D6}.png";
            var scene = SampleScene(options, random);

            var imagePath = Path.Combine(EvaluationDataLayout.ImagesFolder(outputRoot, split), fileName);
            Directory.CreateDirectory(Path.GetDirectoryName(imagePath)!);
            File.WriteAllBytes(imagePath, scene.RenderPng(options.ImageSize));
            generated.Add(new GeneratedImage(split, imageId, fileName, scene));
            files.Images.Add(new CocoImageRecord { Id = imageId, FileName = fileName, Width = options.ImageSize, Height = options.ImageSize });

            var captions = SceneLanguage.Captions(scene, options.CaptionsPerImage, random);
            var sentences = new List<KarpathySentenceRecord>();
            foreach (var caption in captions)
            {
                captionId++;
                files.Captions.Add(new CocoCaptionRecord { ImageId = imageId, Id = captionId, Caption = caption });
                sentences.Add(new KarpathySentenceRecord { Tokens = [.. CaptionTokenizer.Tokenize(caption)], Raw = caption, ImgId = index, SentId = captionId - 1 });
            }
            karpathy.Add(new KarpathyImageRecord
            {
                FilePath = $"images/{split}", FileName = fileName, ImgId = index, CocoId = imageId, Split = split,
                SentIds = sentences.Select(s => s.SentId!.Value).ToList(), Sentences = sentences,
            });

            var questions = SceneLanguage.Questions(scene, options.Vocabulary, random).Take(options.QuestionsPerImage).ToArray();
            for (var q = 0; q < questions.Length; q++)
            {
                var question = questions[q];
                var questionId = imageId * 1000 + q;
                var answers = HumanAnswers(question, options, random);
                if (answers.Distinct().Count() > 1) disagreements++;
                files.Questions.Add(new VqaQuestionRecord { ImageId = imageId, Question = question.Question, QuestionId = questionId });
                files.Annotations.Add(new VqaAnnotationRecord
                {
                    QuestionType = question.QuestionType,
                    MultipleChoiceAnswer = answers.GroupBy(a => a).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key,
                    Answers = answers.Select((a, i) => new VqaAnswerRecord { Answer = a, AnswerConfidence = a == question.Answer ? "yes" : "maybe", AnswerId = i + 1 }).ToList(),
                    ImageId = imageId, AnswerType = question.AnswerType, QuestionId = questionId,
                });
                totalQuestions++;
            }
        }

        var info = new CocoInfo { Description = $"Synthetic shapes benchmark (seed {options.Seed.ToString(CultureInfo.InvariantCulture)})", Version = "1.0", Year = 2026 };
        foreach (var (split, files) in perSplit)
        {
            Write(EvaluationDataLayout.CaptionsFile(outputRoot, split), new CocoCaptionFile { Info = info, Images = files.Images, Annotations = files.Captions });
            Write(EvaluationDataLayout.VqaQuestionsFile(outputRoot, split), new VqaQuestionFile
            {
                Info = info, TaskType = "Open-Ended", DataType = "synthetic", DataSubtype = split, Questions = files.Questions,
            });
            Write(EvaluationDataLayout.VqaAnnotationsFile(outputRoot, split), new VqaAnnotationFile
            {
                Info = info, DataType = "synthetic", DataSubtype = split, Annotations = files.Annotations,
            });
        }
        Write(EvaluationDataLayout.KarpathySplitsFile(outputRoot), new KarpathySplitFile { Images = karpathy, Dataset = "synthetic" });
        var tasks = TaskBenchmarks.Generate(outputRoot, options, generated);

        return new BenchmarkSummary(
            perSplit.ToDictionary(p => p.Key, p => p.Value.Images.Count),
            perSplit.Values.Sum(f => f.Captions.Count), totalQuestions, disagreements, tasks);
    }

    /// <summary>Shuffled image indices cut into test, val and the rest train (each split gets at least one image).</summary>
    static string[] AssignSplits(BenchmarkOptions options, Random random)
    {
        var test = Math.Max(1, (int)Math.Round(options.Images * options.TestFraction));
        var val = Math.Max(1, (int)Math.Round(options.Images * options.ValFraction));
        if (test + val >= options.Images)
            throw new ArgumentException($"{options.Images} images leave none for train with {val} val and {test} test images.");
        var order = Enumerable.Range(0, options.Images).OrderBy(_ => random.Next()).ToArray();
        var splits = new string[options.Images];
        for (var rank = 0; rank < order.Length; rank++)
            splits[order[rank]] = rank < test ? "test" : rank < test + val ? "val" : "train";
        return splits;
    }

    /// <summary>Mostly the right answer; on some questions one to three annotators answer otherwise.</summary>
    static string[] HumanAnswers(GeneratedQuestion question, BenchmarkOptions options, Random random)
    {
        var answers = Enumerable.Repeat(question.Answer, options.AnswersPerQuestion).ToArray();
        if (random.NextDouble() < options.DisagreementRate)
        {
            var dissenters = random.Next(1, Math.Min(3, options.AnswersPerQuestion - 1) + 1);
            foreach (var slot in Enumerable.Range(0, options.AnswersPerQuestion).OrderBy(_ => random.Next()).Take(dissenters))
                answers[slot] = question.WrongAnswer(random);
        }
        return answers;
    }

    static void Write<T>(string path, T value)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(value, Json));
    }

    sealed class SplitFiles
    {
        public List<CocoImageRecord> Images { get; } = [];
        public List<CocoCaptionRecord> Captions { get; } = [];
        public List<VqaQuestionRecord> Questions { get; } = [];
        public List<VqaAnnotationRecord> Annotations { get; } = [];
    }
}
