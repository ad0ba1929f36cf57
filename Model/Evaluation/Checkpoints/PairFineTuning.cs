using System.Globalization;
using Platform.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Model.Evaluation.Checkpoints;

/// <summary>
/// Fine-tuning on NLVR2, whose examples show two images: the same objective as VQA's fine-tuning (the
/// label word as the target after the statement), but the prefix is the two images' encodings joined
/// as <see cref="LabelLikelihood.EncodeImagesWithPrompt"/> joins them for evaluation. The trainer's
/// batches carry one image per sample, so this loop builds its own batches; the optimiser, schedule and
/// clipping are the trainer's own (<see cref="ModelOptimizer"/>).
/// </summary>
public static class PairFineTuning
{
    public static (SimVlmModel Model, TextTokenizer Tokenizer, FineTuneSummary Summary, IReadOnlyList<string> Problems) Run(
        string folder, EvaluationTask task, string dataRoot, int? imageSize, FineTuneOptions fineTune, int maxLabelTokens,
        Action<string>? log, CancellationToken cancellationToken)
    {
        fineTune.Validate();
        var state = Checkpoint.ReadState(folder);
        var tokenizer = TextTokenizer.Load(Path.Combine(folder, Checkpoint.VocabularyFile));
        var config = (state.Config with { Dropout = fineTune.Dropout, DropPath = fineTune.DropPath, ImageSize = imageSize ?? state.Config.ImageSize }).Validate();
        var data = new TaskData(dataRoot, config, tokenizer);
        var (examples, problems) = Examples(data, dataRoot, task, fineTune.Split, maxLabelTokens);
        if (examples.Count == 0) throw new InvalidDataException($"Split '{fineTune.Split}' gave no usable fine-tuning samples ({problems.Count} problems; first: {problems.FirstOrDefault()}).");

        var device = SimVlmTrainer.ChooseDevice(fineTune.Device);
        var random = new TorchRandomStream(fineTune.Seed);
        var model = new SimVlmModel(config, random);
        try
        {
            if (config.ImageSize == state.Config.ImageSize) model.load(Path.Combine(folder, Checkpoint.ModelFile));
            else
            {
                using var pretrained = new SimVlmModel(state.Config);
                pretrained.load(Path.Combine(folder, Checkpoint.ModelFile));
                model.CopyWeightsFrom(pretrained);
            }
            model.to(device);
            model.train();
            using var optimizer = new ModelOptimizer(model, fineTune.ToTrainingOptions());
            var order = new DeterministicRandom(fineTune.Seed);
            int[] shuffled = [];
            int next = 0;
            double first = double.NaN, last = double.NaN;
            log?.Invoke($"fine-tuning on {examples.Count} {fineTune.Split} image pairs for {fineTune.Steps} steps (lr {fineTune.LearningRate.ToString(CultureInfo.InvariantCulture)}, dropout {fineTune.Dropout.ToString(CultureInfo.InvariantCulture)}, drop-path {fineTune.DropPath.ToString(CultureInfo.InvariantCulture)}, image size {config.ImageSize})");
            for (int step = 0; step < fineTune.Steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = new List<PairExample>(fineTune.SamplesPerStep);
                while (batch.Count < fineTune.SamplesPerStep)
                {
                    if (next == shuffled.Length) { shuffled = Shuffled(examples.Count, order); next = 0; }
                    batch.Add(examples[shuffled[next++]]);
                }
                optimizer.SetLearningRate(step);
                using var scope = NewDisposeScope();
                optimizer.ZeroGrad();
                Tensor loss;
                using (config.Dropout > 0 || config.DropPath > 0 ? random.Enter(cuda: device.type == DeviceType.CUDA) : null)
                {
                    loss = Loss(model, batch, device);
                    loss.backward();
                }
                optimizer.ClipAndStep();
                last = loss.item<float>();
                if (step == 0) first = last;
                if ((step + 1) % 50 == 0 || step + 1 == fineTune.Steps)
                    log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"fine-tune step {step + 1}/{fineTune.Steps} loss {last:F4}"));
            }
            return (model, tokenizer, new FineTuneSummary(fineTune.Steps, examples.Count, first, last), problems);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private sealed record PairExample(float[][] Pixels, int[] Prompt, int[] Target);

    private static int[] Shuffled(int count, DeterministicRandom random)
    {
        var order = Enumerable.Range(0, count).ToArray();
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(0, i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static (IReadOnlyList<PairExample>, List<string>) Examples(TaskData data, string dataRoot, EvaluationTask task, string split, int maxLabelTokens)
    {
        var dataset = ResultsScoring.ReadLabelledSplit(task, dataRoot, split);
        var folders = data.LabelledImageFolders(task, split);
        var cache = new Dictionary<string, float[]?>(StringComparer.Ordinal);
        var problems = dataset.Skipped.Select(s => $"{s.File} record {s.Index}: {s.Reason}").ToList();
        var examples = new List<PairExample>();
        foreach (var example in dataset.Examples)
        {
            var pixels = example.Images.Select(name =>
            {
                if (!cache.TryGetValue(name, out var loaded))
                {
                    var image = data.LoadNamedImage(name, folders);
                    if (image.Problem is not null) problems.Add(image.Problem);
                    cache[name] = loaded = image.Pixels;
                }
                return loaded;
            }).ToArray();
            if (pixels.Any(p => p is null)) continue;
            int[] prompt = data.Prompt(example.Text, maxLabelTokens);
            examples.Add(new PairExample(pixels.Select(p => p!).ToArray(), prompt, data.TargetIds(prompt, example.Label)));
        }
        return (examples, problems);
    }

    /// <summary>Mean cross-entropy of the label tokens (end-of-text included) after each statement, given both images.</summary>
    private static Tensor Loss(SimVlmModel model, IReadOnlyList<PairExample> batch, Device device)
    {
        int side = model.Config.ImageSize, slots = batch[0].Pixels.Length, size = batch.Count;
        var images = Enumerable.Range(0, slots).Select(slot => tensor(batch.SelectMany(e => e.Pixels[slot]).ToArray(), [size, 3, side, side])).ToArray();
        var (encoded, valid) = LabelLikelihood.EncodeImagesWithPrompt(model, images, batch.Select(e => e.Prompt).ToArray());
        var rows = LabelLikelihood.TeacherForcing(batch.Select(e => e.Target).ToArray(), batch.Select(e => e.Prompt.Length).ToArray(), device);
        var logits = model.Decode(encoded, valid, rows.Input, rows.Positions, rows.Valid);
        return nn.functional.cross_entropy(logits.to(ScalarType.Float32).flatten(0, 1), rows.Targets.flatten());
    }
}
