using System.Diagnostics;
using System.Globalization;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Evaluation.Retrieval;
using Platform.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Model.Evaluation.Checkpoints;

public sealed record GeneratedCaption(long ImageId, string FileName, string Caption);

public sealed record GeneratedAnswer(long QuestionId, long ImageId, string Question, string Answer);

/// <summary>An SNLI-VE or NLVR2 example's predicted label (the label word the decoder found most likely) and its gold label.</summary>
public sealed record GeneratedLabel(string Id, IReadOnlyList<string> Images, string Text, string Prediction, string Label);

/// <summary>0-based rank of an image's best-ranked ground-truth text among all texts.</summary>
public sealed record ImageRank(long ImageId, int Rank);

/// <summary>0-based rank of a text's image among all images.</summary>
public sealed record TextRank(int TextIndex, long ImageId, string Text, int Rank);

public sealed record RetrievalRanks(IReadOnlyList<ImageRank> Images, IReadOnlyList<TextRank> Texts);

/// <summary>What fine-tuning did before the evaluation.</summary>
public sealed record FineTuneSummary(int Steps, int Samples, double FirstLoss, double LastLoss);

/// <summary>
/// A checkpoint's scores on one task, the per-item outputs they came from (captions, answers or
/// ranks, depending on the task), the settings used, and the items that could not be used.
/// </summary>
public sealed record CheckpointEvaluation(
    EvaluationTask Task,
    string Checkpoint,
    int Step,
    TaskScores Scores,
    IReadOnlyDictionary<string, string> Settings,
    IReadOnlyList<string> Problems,
    FineTuneSummary? FineTune = null,
    IReadOnlyList<GeneratedCaption>? Captions = null,
    IReadOnlyList<GeneratedAnswer>? Answers = null,
    RetrievalRanks? Ranks = null,
    IReadOnlyList<GeneratedLabel>? Labels = null);

/// <summary>
/// Scores a trained checkpoint on a downstream task with the same metric code that scores results
/// files: zero-shot captioning with a prompt, VQA as generation (image and question in the prefix,
/// the answer generated as the suffix), and retrieval by the PrefixLM likelihood of the text given
/// the image. Runs synchronously on the calling thread (TorchSharp's dispose scopes are per thread).
/// </summary>
public static class CheckpointEvaluator
{
    public static CheckpointEvaluation Run(string checkpoint, EvaluationTask task, string dataRoot, CheckpointEvaluationOptions options,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (!Directory.Exists(dataRoot)) throw new DirectoryNotFoundException($"Evaluation data folder {dataRoot} does not exist: give the folder `platform benchmark-data --out` wrote, or one with annotations/ and images/.");
        string folder = Checkpoint.ResolveFolder(checkpoint);
        int step = Checkpoint.ReadState(folder).Step;
        if (options.FineTune is { } fineTune)
        {
            if (task == EvaluationTask.Retrieval) throw new ArgumentException("--finetune applies to coco-captions and vqa (and snli-ve, nlvr2, nocaps); retrieval scores the checkpoint as it is.");
            if (task == EvaluationTask.Nlvr2)
            {
                var (pairModel, pairTokenizer, summary, pairProblems) = PairFineTuning.Run(folder, task, dataRoot, options.ImageSize, fineTune.Validate(), options.MaxAnswerTokens, log, cancellationToken);
                using (pairModel)
                    return Evaluate(pairModel, pairTokenizer, folder, step, task, dataRoot, options, summary, pairProblems, log, cancellationToken);
            }
            return FineTuneThenEvaluate(folder, step, task, dataRoot, options, fineTune, log, cancellationToken);
        }
        var (model, tokenizer) = Checkpoint.LoadForInference(folder, options.ImageSize);
        using (model)
        {
            if (options.Device != "cpu") model.to(SimVlmTrainer.ChooseDevice(options.Device));
            return Evaluate(model, tokenizer, folder, step, task, dataRoot, options, null, [], log, cancellationToken);
        }
    }

    private static CheckpointEvaluation FineTuneThenEvaluate(string folder, int step, EvaluationTask task, string dataRoot, CheckpointEvaluationOptions options,
        FineTuneOptions fineTune, Action<string>? log, CancellationToken cancellationToken)
    {
        var state = Checkpoint.ReadState(folder);
        var config = state.Config with { ImageSize = options.ImageSize ?? state.Config.ImageSize };
        var data = new TaskData(dataRoot, config.Validate(), TextTokenizer.Load(Path.Combine(folder, Checkpoint.VocabularyFile)));
        // NoCaps has no training split of its own: as in the paper, the captioner is fine-tuned on COCO's train split.
        var (samples, problems) = task switch
        {
            EvaluationTask.Vqa => data.VqaSamples(fineTune.Split, options.MaxAnswerTokens),
            EvaluationTask.SnliVe => data.LabelSamples(task, fineTune.Split, options.MaxAnswerTokens),
            _ => data.CaptionSamples(fineTune.Split, options.Prompt, options.MaxCaptionTokens),
        };
        if (samples.Count == 0) throw new InvalidDataException($"Split '{fineTune.Split}' gave no usable fine-tuning samples ({problems.Count} problems; first: {problems.FirstOrDefault()}).");
        var trainingOptions = fineTune.ToTrainingOptions();
        log?.Invoke($"fine-tuning on {samples.Count} {fineTune.Split} samples for {fineTune.Steps} steps (lr {fineTune.LearningRate.ToString(CultureInfo.InvariantCulture)}, dropout {fineTune.Dropout.ToString(CultureInfo.InvariantCulture)}, drop-path {fineTune.DropPath.ToString(CultureInfo.InvariantCulture)}, image size {config.ImageSize})");
        using var trainer = SimVlmTrainer.FineTune(folder, new InMemoryPrefixLmData(samples, [], fineTune.Seed), trainingOptions, fineTune.Dropout, fineTune.DropPath, config.ImageSize);
        double first = double.NaN, last = double.NaN;
        while (trainer.Step < fineTune.Steps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var metrics = trainer.TrainStep();
            if (trainer.Step == 1) first = metrics.Loss;
            last = metrics.Loss;
            if (trainer.Step % 50 == 0 || trainer.Step == fineTune.Steps)
                log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"fine-tune step {trainer.Step}/{fineTune.Steps} loss {metrics.Loss:F4}"));
        }
        var summary = new FineTuneSummary(fineTune.Steps, samples.Count, first, last);
        return Evaluate(trainer.Model, trainer.Tokenizer, folder, step, task, dataRoot, options, summary, problems, log, cancellationToken);
    }

    private static CheckpointEvaluation Evaluate(SimVlmModel model, TextTokenizer tokenizer, string folder, int step, EvaluationTask task, string dataRoot,
        CheckpointEvaluationOptions options, FineTuneSummary? fineTune, IReadOnlyList<string> fineTuneProblems, Action<string>? log, CancellationToken cancellationToken)
    {
        var data = new TaskData(dataRoot, model.Config, tokenizer);
        var settings = new Dictionary<string, string>
        {
            ["split"] = options.Split,
            ["beam"] = options.BeamSize.ToString(CultureInfo.InvariantCulture),
            ["image_size"] = model.Config.ImageSize.ToString(CultureInfo.InvariantCulture),
        };
        if (fineTune is not null)
        {
            var f = options.FineTune!;
            settings["finetune"] = string.Create(CultureInfo.InvariantCulture, $"{f.Steps} steps on {f.Split}, lr {f.LearningRate}, dropout {f.Dropout}, drop-path {f.DropPath}, {f.SamplesPerStep} samples/step, weight decay {f.WeightDecay}");
        }
        var problems = new List<string>(fineTuneProblems);
        switch (task)
        {
            case EvaluationTask.CocoCaptions or EvaluationTask.NoCaps:
            {
                settings["prompt"] = options.Prompt;
                var (scores, captions) = Captioning(model, tokenizer, data, dataRoot, task, options, problems, log, cancellationToken);
                return new CheckpointEvaluation(task, folder, step, scores, settings, problems, fineTune, Captions: captions);
            }
            case EvaluationTask.SnliVe or EvaluationTask.Nlvr2:
            {
                settings["framing"] = task == EvaluationTask.Nlvr2
                    ? "each image encoded with the statement as text prefix, the two encodings concatenated; the decoder's most likely label word (true/false)"
                    : "image and hypothesis as the prefix; the decoder's most likely label word (entailment/neutral/contradiction)";
                var (scores, labels) = Classify(model, data, dataRoot, task, options, problems, log, cancellationToken);
                return new CheckpointEvaluation(task, folder, step, scores, settings, problems, fineTune, Labels: labels);
            }
            case EvaluationTask.Vqa:
            {
                var (scores, answers) = Vqa(model, tokenizer, data, dataRoot, options, problems, log, cancellationToken);
                return new CheckpointEvaluation(task, folder, step, scores, settings, problems, fineTune, Answers: answers);
            }
            case EvaluationTask.Retrieval:
            {
                settings["pair_scoring"] = options.RetrievalScoring == PairScoring.MeanLogLikelihood
                    ? "mean log-likelihood per text token (end-of-text included) given the image"
                    : "summed log-likelihood over text tokens (end-of-text included) given the image";
                settings["captions_per_image"] = options.CaptionsPerImage.ToString(CultureInfo.InvariantCulture);
                var (scores, ranks) = Retrieve(model, tokenizer, data, dataRoot, options, settings, problems, log, cancellationToken);
                return new CheckpointEvaluation(task, folder, step, scores, settings, problems, fineTune, Ranks: ranks);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(task));
        }
    }

    private static (TaskScores, IReadOnlyList<GeneratedCaption>) Captioning(SimVlmModel model, TextTokenizer tokenizer, TaskData data, string dataRoot, EvaluationTask task,
        CheckpointEvaluationOptions options, List<string> problems, Action<string>? log, CancellationToken cancellationToken)
    {
        var references = task == EvaluationTask.NoCaps ? ResultsScoring.ReadNoCapsReferences(dataRoot, options.Split) : ResultsScoring.ReadCaptionReferences(dataRoot, options.Split);
        var images = references.Images.Where(i => references.Captions.TryGetValue(i.Id, out var c) && c.Count > 0).Take(options.MaxImages ?? int.MaxValue).ToArray();
        int[] prompt = data.Prompt(options.Prompt, options.MaxCaptionTokens);
        var texts = Generate(model, tokenizer, images.Select(i => (i, prompt)).ToArray(), data, options.Split, options.BeamSize, options.MaxCaptionTokens, options.BatchSize, problems, log, cancellationToken);
        var captions = images.Zip(texts).Where(p => p.Second is not null).Select(p => new GeneratedCaption(p.First.Id, p.First.FileName, p.Second!)).ToArray();
        if (captions.Length == 0) throw new InvalidDataException($"No image of split '{options.Split}' could be captioned (first problem: {problems.FirstOrDefault()}).");
        var results = captions.Select(c => (CaptionResultRecord?)new CaptionResultRecord { ImageId = c.ImageId, Caption = c.Caption }).ToArray();
        var scores = task == EvaluationTask.NoCaps ? ResultsScoring.ScoreNoCaps(results, references, options.Split) : ResultsScoring.ScoreCaptions(results, references, options.Split);
        return (scores, captions);
    }

    /// <summary>SNLI-VE and NLVR2: the label each example's prefix makes most likely (see <see cref="LabelLikelihood"/>), scored by accuracy.</summary>
    private static (TaskScores, IReadOnlyList<GeneratedLabel>) Classify(SimVlmModel model, TaskData data, string dataRoot, EvaluationTask task,
        CheckpointEvaluationOptions options, List<string> problems, Action<string>? log, CancellationToken cancellationToken)
    {
        var dataset = ResultsScoring.ReadLabelledSplit(task, dataRoot, options.Split);
        problems.AddRange(dataset.Skipped.Select(s => $"{s.File} record {s.Index}: {s.Reason}"));
        var examples = dataset.Examples.Take(options.MaxImages ?? int.MaxValue).ToArray();
        if (examples.Length == 0) throw new InvalidDataException($"Split '{options.Split}' has no usable {ResultsScoring.TaskName(task)} examples (first problem: {problems.FirstOrDefault()}).");
        var folders = data.LabelledImageFolders(task, options.Split);
        var pixelCache = new Dictionary<string, TaskImage>(StringComparer.Ordinal);
        int side = model.Config.ImageSize, slots = examples[0].Images.Count;
        var predictions = new string[examples.Length];
        for (int start = 0; start < examples.Length; start += options.BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ready = new List<(int Index, float[][] Pixels, int[] Prompt)>();
            for (int i = start; i < Math.Min(examples.Length, start + options.BatchSize); i++)
            {
                predictions[i] = "";
                var loaded = examples[i].Images.Select(name =>
                {
                    if (!pixelCache.TryGetValue(name, out var image))
                    {
                        pixelCache[name] = image = data.LoadNamedImage(name, folders);
                        if (image.Problem is not null) problems.Add(image.Problem);
                    }
                    return image.Pixels;
                }).ToArray();
                // An example whose image is unusable keeps an empty (wrong) prediction: accuracy stays over every example.
                if (loaded.Length == slots && loaded.All(p => p is not null)) ready.Add((i, loaded.Select(p => p!).ToArray(), data.Prompt(examples[i].Text, options.MaxAnswerTokens)));
            }
            if (ready.Count == 0) continue;
            using var scope = NewDisposeScope();
            var images = Enumerable.Range(0, slots).Select(slot => tensor(ready.SelectMany(r => r.Pixels[slot]).ToArray(), [ready.Count, 3, side, side])).ToArray();
            // A label's ids can depend on the prompt only through its leading space, the same for every non-empty prompt.
            var labelIds = dataset.Labels.Select(label => data.TargetIds(ready[0].Prompt, label)).ToArray();
            double[][] scores;
            using (no_grad())
            {
                bool wasTraining = model.training;
                model.eval();
                try
                {
                    var (encoded, valid) = LabelLikelihood.EncodeImagesWithPrompt(model, images, ready.Select(r => r.Prompt).ToArray());
                    scores = LabelLikelihood.Scores(model, encoded, valid, ready.Select(r => r.Prompt.Length).ToArray(), labelIds);
                }
                finally
                {
                    model.train(wasTraining);
                }
            }
            for (int j = 0; j < ready.Count; j++)
                predictions[ready[j].Index] = dataset.Labels[Array.IndexOf(scores[j], scores[j].Max())];
            log?.Invoke($"classified {Math.Min(examples.Length, start + options.BatchSize)}/{examples.Length}");
        }
        var generated = examples.Select((e, i) => new GeneratedLabel(e.Id, e.Images, e.Text, predictions[i], e.Label)).ToArray();
        var scored = dataset with { Examples = examples };
        var taskScores = ResultsScoring.ScoreLabels(task, generated.Select(g => (LabelResultRecord?)new LabelResultRecord { Id = g.Id, Prediction = g.Prediction }).ToArray(), scored, options.Split);
        return (taskScores, generated);
    }

    private static (TaskScores, IReadOnlyList<GeneratedAnswer>) Vqa(SimVlmModel model, TextTokenizer tokenizer, TaskData data, string dataRoot,
        CheckpointEvaluationOptions options, List<string> problems, Action<string>? log, CancellationToken cancellationToken)
    {
        var dataset = ResultsScoring.ReadVqaSplit(dataRoot, options.Split);
        if (dataset.Annotations.Count == 0) throw new InvalidDataException($"Split '{options.Split}' has no VQA annotations to score against.");
        var imagesById = TaskData.ImagesById(dataRoot, options.Split);
        var kept = imagesById.Values.Select(i => i.Id).Order().Take(options.MaxImages ?? int.MaxValue).ToHashSet();
        var annotated = dataset.Annotations.Values.Where(a => kept.Contains(a.ImageId) || !imagesById.ContainsKey(a.ImageId)).OrderBy(a => a.QuestionId).ToArray();
        var questions = annotated.Select(a => dataset.Questions[a.QuestionId]).ToArray();
        var items = questions.Select(q => (imagesById.GetValueOrDefault(q.ImageId) ?? new CocoImage(q.ImageId, "", 0, 0), data.Prompt(q.Question, options.MaxAnswerTokens))).ToArray();
        var texts = Generate(model, tokenizer, items, data, options.Split, options.BeamSize, options.MaxAnswerTokens, options.BatchSize, problems, log, cancellationToken);
        // A question whose image is unusable still gets an (empty, wrong) answer: the score stays over every annotated question.
        var answers = questions.Zip(texts).Select(p => new GeneratedAnswer(p.First.QuestionId, p.First.ImageId, p.First.Question, p.Second ?? "")).ToArray();
        var scoredDataset = dataset with { Annotations = annotated.ToDictionary(a => a.QuestionId) };
        var scores = ResultsScoring.ScoreVqa(answers.Select(a => (VqaResultRecord?)new VqaResultRecord { QuestionId = a.QuestionId, Answer = a.Answer }).ToArray(), scoredDataset, options.Split);
        return (scores, answers);
    }

    /// <summary>Generated text per item (null where the image was unusable), batched greedily or by beam search per item.</summary>
    private static string?[] Generate(SimVlmModel model, TextTokenizer tokenizer, IReadOnlyList<(CocoImage Image, int[] Prompt)> items, TaskData data, string split,
        int beamSize, int maxTokens, int batchSize, List<string> problems, Action<string>? log, CancellationToken cancellationToken)
    {
        var results = new string?[items.Count];
        var pixelCache = new Dictionary<long, TaskImage>();
        int side = model.Config.ImageSize;
        for (int start = 0; start < items.Count; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ready = new List<(int Index, float[] Pixels, int[] Prompt)>();
            for (int i = start; i < Math.Min(items.Count, start + batchSize); i++)
            {
                var (image, prompt) = items[i];
                if (!pixelCache.TryGetValue(image.Id, out var loaded))
                {
                    loaded = image.FileName.Length == 0 ? new TaskImage(image, null, $"image {image.Id} is not listed in split '{split}''s captions file") : data.LoadImage(image, split);
                    pixelCache[image.Id] = loaded;
                    if (loaded.Problem is not null) problems.Add(loaded.Problem);
                }
                if (loaded.Pixels is not null) ready.Add((i, loaded.Pixels, prompt));
            }
            if (ready.Count == 0) continue;
            using var scope = NewDisposeScope();
            var images = tensor(ready.SelectMany(r => r.Pixels).ToArray(), [ready.Count, 3, side, side]);
            var decoded = beamSize <= 1
                ? CaptionDecoder.Greedy(model, images, ready.Select(r => r.Prompt).ToArray(), maxTokens)
                : CaptionDecoder.BeamBatch(model, images, ready.Select(r => r.Prompt).ToArray(), beamSize, maxTokens);
            for (int j = 0; j < ready.Count; j++) results[ready[j].Index] = tokenizer.Decode(decoded[j].Tokens).Trim();
            log?.Invoke($"generated {Math.Min(items.Count, start + batchSize)}/{items.Count}");
        }
        return results;
    }

    private static (TaskScores, RetrievalRanks) Retrieve(SimVlmModel model, TextTokenizer tokenizer, TaskData data, string dataRoot,
        CheckpointEvaluationOptions options, Dictionary<string, string> settings, List<string> problems, Action<string>? log, CancellationToken cancellationToken)
    {
        var references = ResultsScoring.ReadCaptionReferences(dataRoot, options.Split);
        var usable = new List<(CocoImage Image, float[] Pixels)>();
        foreach (var image in references.Images.Where(i => references.Captions.TryGetValue(i.Id, out var c) && c.Count > 0).Take(options.MaxImages ?? int.MaxValue))
        {
            var loaded = data.LoadImage(image, options.Split);
            if (loaded.Pixels is null) problems.Add(loaded.Problem!);
            else usable.Add((image, loaded.Pixels));
        }
        if (usable.Count == 0) throw new InvalidDataException($"No image of split '{options.Split}' could be loaded (first problem: {problems.FirstOrDefault()}).");
        var set = RetrievalSet.FromCaptions(references with { Images = usable.Select(u => u.Image).ToArray() }, options.CaptionsPerImage);
        var textIds = set.Texts.Select(t => tokenizer.Encode(t, model.Config.MaxTextLength)).ToArray();
        // Each image is encoded once and its encoder output reused for every batch of captions: pairs cost a decoder pass each, not an encoder pass.
        var clock = Stopwatch.StartNew();
        var scoreMatrix = TextLikelihood.PairScores(model, usable.Select(u => u.Pixels).ToArray(), textIds, options.BatchSize, options.RetrievalScoring, log, cancellationToken);
        double seconds = clock.Elapsed.TotalSeconds;
        long pairs = (long)usable.Count * set.Texts.Count;
        settings["retrieval_pairs"] = string.Create(CultureInfo.InvariantCulture,
            $"{usable.Count} images x {set.Texts.Count} captions = {pairs} pairs, {options.BatchSize} captions against {TextLikelihood.ImagesPerPass(options.BatchSize)} images per decoder pass");
        settings["retrieval_seconds"] = string.Create(CultureInfo.InvariantCulture, $"{seconds:F2} ({pairs / Math.Max(seconds, 1e-9):F0} pairs/s)");
        log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"scored {pairs} image-caption pairs in {seconds:F2} s"));
        var recall = RetrievalRecall.Compute(scoreMatrix, set.TextImage);
        var imageRanks = RetrievalRecall.ImageToTextRanks(scoreMatrix, set.TextImage);
        var textRanks = RetrievalRecall.TextToImageRanks(scoreMatrix, set.TextImage);
        var ranks = new RetrievalRanks(
            imageRanks.Select((r, i) => new ImageRank(usable[i].Image.Id, r)).ToArray(),
            textRanks.Select((r, t) => new TextRank(t, usable[set.TextImage[t]].Image.Id, set.Texts[t], r)).ToArray());
        var scores = new TaskScores(EvaluationTask.Retrieval, options.Split, recall.Named(), usable.Count, references.Captions.Count(c => c.Value.Count > 0), references.Skipped);
        return (scores, ranks);
    }
}
