using Platform.Model;
using Platform.Model.Evaluation;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Training;

namespace Platform.Evaluation.Tests;

/// <summary>
/// A small generated benchmark and SimVLM checkpoints sized to it, small enough to train and score
/// in seconds on two CPU cores (also compiled into Platform.Tests).
/// </summary>
internal static class TinyBenchmarkModel
{
    /// <summary>32x32 images of one or two shapes; 100 images, 15 in test.</summary>
    public static BenchmarkOptions Benchmark(int seed = 3) => new()
    {
        Seed = seed, Images = 100, ImageSize = 32, ValFraction = 0.05, TestFraction = 0.15, MinObjects = 1, MaxObjects = 2,
    };

    /// <summary>8x8 patches of a 32x32 image (16 image tokens), width 64, two encoder and two decoder layers.</summary>
    public static SimVlmConfig Config(int vocabSize) => new()
    {
        ImageSize = 32, PatchSize = 8, StemWidth = SimVlmConfig.MinimumStemWidth, StageDepths = [1, 1, 1],
        Width = 64, EncoderLayers = 2, DecoderLayers = 2, Heads = 4, MlpWidth = 128,
        VocabSize = vocabSize, MaxTextLength = 32, Dropout = 0.0,
    };

    /// <summary>
    /// The vocabulary of the train split's captions, questions and answers; with <paramref name="allTasks"/>
    /// also of its SNLI-VE hypotheses and NLVR2 statements with their labels (else the label words are unknown).
    /// </summary>
    public static TextTokenizer Tokenizer(string dataRoot, bool allTasks = false)
    {
        var captions = DatasetReaders.ReadCocoCaptions(EvaluationDataLayout.CaptionsFile(dataRoot, "train"));
        var vqa = DatasetReaders.ReadVqa(EvaluationDataLayout.VqaQuestionsFile(dataRoot, "train"), EvaluationDataLayout.VqaAnnotationsFile(dataRoot, "train"));
        var texts = captions.Captions.Values.SelectMany(c => c)
            .Concat(vqa.Annotations.Values.SelectMany(a => a.Answers.Select(answer => $"{vqa.Questions[a.QuestionId].Question} {answer}")));
        if (allTasks)
            texts = texts.Concat(new[] { EvaluationTask.SnliVe, EvaluationTask.Nlvr2 }
                .SelectMany(task => ResultsScoring.ReadLabelledSplit(task, dataRoot, "train").Examples.Select(e => $"{e.Text} {e.Label}")));
        return TextTokenizer.BuildGpt2(texts, 2000);
    }

    /// <summary>
    /// Saves a checkpoint in <paramref name="runFolder"/> after <paramref name="steps"/> PrefixLM
    /// pretraining steps on the train split's image-caption pairs (0: the initial weights).
    /// </summary>
    public static string Checkpoint(string dataRoot, string runFolder, int steps, ulong seed = 1, bool allTasks = false)
    {
        var tokenizer = Tokenizer(dataRoot, allTasks);
        var config = Config(tokenizer.VocabSize);
        var preprocessor = new ImagePreprocessor(config.ImageSize);
        var captions = DatasetReaders.ReadCocoCaptions(EvaluationDataLayout.CaptionsFile(dataRoot, "train"));
        var pairs = captions.Images.SelectMany(image =>
        {
            var pixels = preprocessor.Preprocess(File.ReadAllBytes(Path.Combine(EvaluationDataLayout.ImagesFolder(dataRoot, "train"), image.FileName)), out _)!;
            return captions.Captions[image.Id].Select(c => new PrefixLmSample(pixels, tokenizer.Encode(c, config.MaxTextLength)));
        }).ToArray();
        var options = new TrainingOptions { Steps = Math.Max(1, steps), SamplesPerStep = 16, PeakLearningRate = 1e-3, WarmupSteps = 0, Seed = seed, Device = "cpu", CheckpointEvery = 0 };
        using var trainer = SimVlmTrainer.Start(config, options, tokenizer, new InMemoryPrefixLmData(pairs, [], seed));
        for (int i = 0; i < steps; i++) trainer.TrainStep();
        return trainer.SaveCheckpoint(runFolder);
    }
}
