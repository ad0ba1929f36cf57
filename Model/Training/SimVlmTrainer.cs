using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Model.Training;

/// <summary>What a training run reports, in order.</summary>
public abstract record TrainingEvent;

public sealed record StepCompleted(StepMetrics Metrics) : TrainingEvent;

public sealed record CheckpointSaved(int Step, string Folder) : TrainingEvent;

/// <summary>The last event of a run: where it stopped and whether it was cancelled.</summary>
public sealed record TrainingFinished(int Step, bool Cancelled) : TrainingEvent;

/// <summary>
/// One optimiser step. Times are wall-clock seconds: data (drawing samples and building batches),
/// forward, backward, optimizer (clipping and the update); on CUDA, where kernels run asynchronously,
/// time lands on whichever phase waits for them. Flops counts forward and backward; Updated is false
/// when the gradient was not finite and the weights were left unchanged. ModelTokens counts the real
/// image and text positions (all that norms, projections, MLPs and the output layer compute),
/// PaddedTokens the positions of the padded rectangles that attention works on. ValidationLoss is the mean
/// suffix cross-entropy on the held-out samples, after the steps where <see cref="TrainingOptions.ValidateEvery"/> says, else null.
/// </summary>
public sealed record StepMetrics(
    int Step,
    double Loss,
    double LearningRate,
    double GradientNorm,
    bool Updated,
    int ImageTextSamples,
    int TextOnlySamples,
    long TargetTokens,
    long ModelTokens,
    long PaddedTokens,
    double StepSeconds,
    double DataSeconds,
    double ForwardSeconds,
    double BackwardSeconds,
    double OptimizerSeconds,
    FlopsByPart FlopsByPart,
    double? Mfu,
    double? ValidationLoss = null)
{
    public double Flops => FlopsByPart.Total;

    /// <summary>Image and text tokens through the model per second.</summary>
    public double TokensPerSecond => ModelTokens / StepSeconds;

    /// <summary>Forward and backward together.</summary>
    public double ComputeSeconds => ForwardSeconds + BackwardSeconds;
}

/// <summary>
/// PrefixLM pretraining of a <see cref="SimVlmModel"/>: configuration and data in, a stream of
/// metrics and checkpoints out, cancellable between steps. The loop runs on one dedicated thread
/// because TorchSharp's dispose scopes are thread-local; each step runs inside its own scope so
/// that memory stays flat.
/// </summary>
public sealed class SimVlmTrainer : IDisposable
{
    private readonly IPrefixLmData data;
    private readonly ModelOptimizer optimizer;
    private readonly DeterministicRandom splitRandom;
    /// <summary>This run's own stream for initialisation and dropout/drop-path masks (see <see cref="TorchRandomStream"/>).</summary>
    private readonly TorchRandomStream random;
    private readonly ScalarType floatType;

    /// <summary>The floating-point type forward and backward run in: bfloat16 or float32 (see <see cref="TrainingOptions.Precision"/>).</summary>
    public ScalarType ComputeType => floatType;
    /// <summary>
    /// The models that run forward and backward, one per device of <see cref="TrainingOptions.Device"/>:
    /// the first is <see cref="Model"/> itself in float32 (its bfloat16 copy otherwise); each other is
    /// a copy on its own device that takes its share of every batch.
    /// </summary>
    private readonly SimVlmModel[] replicas;
    private readonly Device[] replicaDevices;
    private int running;
    /// <summary>The held-out samples and their fixed splits (<see cref="UseValidationData"/>), or null.</summary>
    private (PrefixLmSample[] Samples, int[] Splits)? validation;
    /// <summary>Prepares the steps' batches ahead of them when <see cref="TrainingOptions.PrefetchSteps"/> is positive; started by the first step.</summary>
    private BackgroundBatchLoader<PreparedStep>? loader;
    /// <summary>
    /// With the loader, the data cursor and split generator as of the last step taken: the loader has drawn further,
    /// and a checkpoint must resume at the next step's samples, not after the prepared ones.
    /// </summary>
    private (string DataCursor, ulong SplitRandomState)? committedCursor;

    public SimVlmModel Model { get; }
    public TextTokenizer Tokenizer { get; }
    public TrainingOptions Options { get; }
    public Device Device { get; }

    /// <summary>Optimiser steps completed so far.</summary>
    public int Step { get; private set; }

    private SimVlmTrainer(SimVlmConfig config, TrainingOptions options, TextTokenizer tokenizer, IPrefixLmData data)
    {
        Options = options.Validate();
        config.Validate();
        if (config.VocabSize < tokenizer.VocabSize)
            throw new ArgumentException($"The model's VocabSize {config.VocabSize} is smaller than the tokenizer's {tokenizer.VocabSize}.");
        if (!data.HasImageText && !data.HasTextOnly) throw new ArgumentException("The data holds no samples.");
        Tokenizer = tokenizer;
        this.data = data;
        replicaDevices = Options.ReplicaDevices().Select(ChooseDevice).ToArray();
        Device = replicaDevices[0];
        floatType = Options.Precision switch
        {
            "bf16" => ScalarType.BFloat16,
            "fp32" => ScalarType.Float32,
            _ => Device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32,
        };
        if (options.Threads > 0) set_num_threads(options.Threads);

        random = new TorchRandomStream(options.Seed);
        Model = new SimVlmModel(config, random);
        Model.to(Device);
        Model.train();
        // bfloat16 by explicit casts (TorchSharp has no autocast): forward and backward run in a
        // bfloat16 copy of the model, while Model keeps the float32 master weights that the optimiser
        // updates, checkpoints save and exports read. Updating bfloat16 weights directly would round
        // away every update smaller than about 1/256 of a weight, i.e. most of them.
        // Replicas are overwritten with the master weights before every step, so their own
        // initialisation draws from the default generator, not from the run's stream.
        replicas = replicaDevices.Select((device, i) =>
        {
            if (i == 0 && floatType == ScalarType.Float32) return Model;
            var replica = new SimVlmModel(config);
            replica.to(device).to(floatType);
            replica.train();
            return replica;
        }).ToArray();

        optimizer = new ModelOptimizer(Model, Options);
        splitRandom = new DeterministicRandom(options.Seed ^ 0xC2B2AE3D27D4EB4FUL);
    }

    /// <summary>A new run from freshly initialised weights.</summary>
    public static SimVlmTrainer Start(SimVlmConfig config, TrainingOptions options, TextTokenizer tokenizer, IPrefixLmData data) =>
        new(config, options, tokenizer, data);

    /// <summary>
    /// Continues the run saved in <paramref name="checkpointDirectory"/>: weights, optimiser moments,
    /// schedule position, data cursor and random generators, so the next steps are those the
    /// original run would have taken. <paramref name="options"/> may replace the saved options
    /// (e.g. more steps, another device). Falls back to older checkpoints as <see cref="ResumeNewestLoadable"/> says.
    /// </summary>
    public static SimVlmTrainer Resume(string checkpointDirectory, IPrefixLmData data, TrainingOptions? options = null) =>
        ResumeNewestLoadable(checkpointDirectory, (state, _) => (data, options ?? state.Options));

    /// <summary>
    /// Continues from the newest checkpoint of <paramref name="checkpointDirectory"/> that loads whole; one that does not
    /// (a file missing or cut short, a trainer.json that does not parse) is skipped and named with its reason in
    /// <see cref="SkippedCheckpoints"/>, as the run can still go on from an older one and redo the steps after it.
    /// <paramref name="setup"/> gives the data and options for a checkpoint's state and vocabulary.
    /// Throws <see cref="InvalidDataException"/> naming every checkpoint and why it failed when none loads.
    /// </summary>
    internal static SimVlmTrainer ResumeNewestLoadable(
        string checkpointDirectory, Func<TrainerState, TextTokenizer, (IPrefixLmData Data, TrainingOptions Options)> setup)
    {
        var candidates = Checkpoint.NewestFirst(checkpointDirectory);
        if (candidates.Count == 0) throw new InvalidOperationException($"{checkpointDirectory} holds no checkpoint to resume from.");
        var skipped = new List<string>();
        foreach (string folder in candidates)
        {
            string reading = Path.Combine(folder, Checkpoint.StateFile);
            SimVlmTrainer? trainer = null;
            try
            {
                var state = Checkpoint.ReadState(folder);
                reading = Path.Combine(folder, Checkpoint.VocabularyFile);
                var tokenizer = TextTokenizer.Load(reading);
                var (data, options) = setup(state, tokenizer);
                trainer = new SimVlmTrainer(state.Config, options with { CheckpointDirectory = checkpointDirectory }, tokenizer, data);
                reading = Path.Combine(folder, Checkpoint.ModelFile);
                trainer.Model.load(reading);
                reading = Path.Combine(folder, Checkpoint.OptimizerFile);
                trainer.optimizer.Load(reading);
                reading = Path.Combine(folder, Checkpoint.StateFile);
                trainer.Step = state.Step;
                data.RestoreCursor(state.DataCursor);
                trainer.splitRandom.State = state.SplitRandomState;
                trainer.random.CpuState = Convert.FromBase64String(state.TorchRandomState);
                trainer.random.CudaEntries = state.CudaRandomEntries;
                trainer.SkippedCheckpoints = skipped;
                return trainer;
            }
            catch (Exception e) when (Checkpoint.IsUnloadable(e))
            {
                trainer?.Dispose();
                skipped.Add($"{reading}: {e.Message}");
            }
        }
        throw new InvalidDataException($"No checkpoint in {checkpointDirectory} can be loaded:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", skipped)}");
    }

    /// <summary>Checkpoints newer than the one this trainer resumed from that could not be loaded: "file: reason" each.</summary>
    public IReadOnlyList<string> SkippedCheckpoints { get; private set; } = [];

    /// <summary>
    /// Fine-tunes a checkpoint's weights on task data: a fresh optimiser and schedule from
    /// <paramref name="options"/> (no optimiser state or data cursor is carried over), and the
    /// given dropout and drop-path rates (the paper fine-tunes with 0.1 each). An <paramref name="imageSize"/>
    /// other than the checkpoint's fine-tunes at that resolution, the image positions interpolated to its grid.
    /// </summary>
    public static SimVlmTrainer FineTune(string checkpoint, IPrefixLmData data, TrainingOptions options, double dropout, double dropPath = 0, int? imageSize = null)
    {
        string folder = Checkpoint.ResolveFolder(checkpoint);
        var state = Checkpoint.ReadState(folder);
        var tokenizer = TextTokenizer.Load(Path.Combine(folder, Checkpoint.VocabularyFile));
        var config = state.Config with { Dropout = dropout, DropPath = dropPath, ImageSize = imageSize ?? state.Config.ImageSize };
        var trainer = new SimVlmTrainer(config, options, tokenizer, data);
        if (config.ImageSize == state.Config.ImageSize) trainer.Model.load(Path.Combine(folder, Checkpoint.ModelFile));
        else
        {
            using var pretrained = new SimVlmModel(state.Config);
            pretrained.load(Path.Combine(folder, Checkpoint.ModelFile));
            pretrained.to(trainer.Device);
            trainer.Model.CopyWeightsFrom(pretrained);
        }
        return trainer;
    }

    internal static Device ChooseDevice(string choice)
    {
        if (choice == "cpu") return CPU;
        if (choice == "auto") return cuda.is_available() ? CUDA : CPU;
        if (!cuda.is_available()) throw new InvalidOperationException($"Device '{choice}' was requested but libtorch finds no CUDA device (the CPU TorchSharp bundle has none).");
        if (TrainingOptions.CudaOrdinal(choice) is not int ordinal) return CUDA;
        int count = cuda.device_count();
        return ordinal < count ? new Device(DeviceType.CUDA, ordinal)
            : throw new InvalidOperationException($"Device '{choice}' was requested but libtorch finds {count} CUDA device(s) (cuda:0 to cuda:{count - 1}).");
    }

    /// <summary>
    /// Trains until <see cref="TrainingOptions.Steps"/> (or <paramref name="stopAfterStep"/>, if
    /// sooner) on a dedicated thread, yielding events as they happen. Cancellation stops after the
    /// current step; a checkpoint is then saved so that no finished step is lost.
    /// </summary>
    public async IAsyncEnumerable<TrainingEvent> RunAsync(int? stopAfterStep = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref running, 1) == 1) throw new InvalidOperationException("This trainer is already running.");
        var channel = Channel.CreateUnbounded<TrainingEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        // Cancelled also when the reader leaves early, so that the loop ends before anyone can dispose this trainer under it.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var thread = new Thread(() =>
        {
            try
            {
                Loop(channel.Writer, stopAfterStep ?? Options.Steps, stop.Token);
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.Complete(e);
            }
            finally
            {
                Volatile.Write(ref running, 0);
            }
        })
        { IsBackground = true, Name = "SimVLM training" };
        thread.Start();
        try
        {
            // Not cancelled with the token: the events after cancellation (final checkpoint) still arrive.
            await foreach (var trainingEvent in channel.Reader.ReadAllAsync(CancellationToken.None)) yield return trainingEvent;
        }
        finally
        {
            // A reader that stops early (an exception in its loop) disposes this enumeration and then, often, the trainer: the
            // loop thread, still training or saving its last checkpoint, would then read freed tensors and crash the process.
            if (thread.IsAlive)
            {
                await stop.CancelAsync();
                await Task.Run(thread.Join);
            }
        }
    }

    private void Loop(ChannelWriter<TrainingEvent> events, int lastStep, CancellationToken cancellationToken)
    {
        lastStep = Math.Min(lastStep, Options.Steps);
        int savedStep = Step;
        var window = new List<PendingStep>();
        try
        {
            while (Step < lastStep && !cancellationToken.IsCancellationRequested)
            {
                window.Add(TakeStep());
                bool validate = validation is not null && Options.ValidateEvery > 0 && Step % Options.ValidateEvery == 0;
                bool checkpoint = Options.CheckpointDirectory is not null && Options.CheckpointEvery > 0 && Step % Options.CheckpointEvery == 0;
                if (window.Count >= Options.MetricsEvery || validate || checkpoint || Step == lastStep)
                {
                    var metrics = ReadMetrics(window);
                    if (validate) metrics[^1] = metrics[^1] with { ValidationLoss = ValidationLoss() };
                    foreach (var stepMetrics in metrics) events.TryWrite(new StepCompleted(stepMetrics));
                }
                if (checkpoint)
                {
                    events.TryWrite(new CheckpointSaved(Step, SaveCheckpoint(Options.CheckpointDirectory!)));
                    savedStep = Step;
                }
            }
            // Cancelled between reads: the steps taken since the last one are reported before the final checkpoint.
            foreach (var stepMetrics in ReadMetrics(window)) events.TryWrite(new StepCompleted(stepMetrics));
        }
        finally
        {
            foreach (var pending in window) pending.Dispose();
        }
        if (Options.CheckpointDirectory is not null && savedStep != Step)
            events.TryWrite(new CheckpointSaved(Step, SaveCheckpoint(Options.CheckpointDirectory)));
        events.TryWrite(new TrainingFinished(Step, cancellationToken.IsCancellationRequested));
    }

    /// <summary>
    /// Takes <paramref name="count"/> steps (fewer when cancelled), reading their losses and gradient norms to the host every
    /// <see cref="TrainingOptions.MetricsEvery"/> steps and after the last: the metrics come in batches, each step's own.
    /// Call from one thread only, as <see cref="TrainStep"/>.
    /// </summary>
    public IEnumerable<StepMetrics> TrainSteps(int count, CancellationToken cancellationToken = default)
    {
        var window = new List<PendingStep>();
        try
        {
            for (int i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
            {
                window.Add(TakeStep());
                if (window.Count >= Options.MetricsEvery)
                    foreach (var metrics in ReadMetrics(window)) yield return metrics;
            }
            foreach (var metrics in ReadMetrics(window)) yield return metrics;
        }
        finally
        {
            foreach (var pending in window) pending.Dispose();
        }
    }

    /// <summary>Reads of step values to the host so far: one per <see cref="ReadMetrics"/> of a non-empty window (seen by tests).</summary>
    internal int HostReads { get; private set; }

    /// <summary>A step whose loss and gradient norm are still on the device: its metrics but for those two.</summary>
    private sealed class PendingStep(StepMetrics metrics, Tensor loss, Tensor gradientNorm) : IDisposable
    {
        public StepMetrics Metrics { get; } = metrics;
        public Tensor Loss { get; } = loss;
        public Tensor GradientNorm { get; } = gradientNorm;

        public void Dispose()
        {
            Loss.Dispose();
            GradientNorm.Dispose();
        }
    }

    /// <summary>
    /// The window's steps with their losses and gradient norms, read to the host in one copy (the one time the device is
    /// waited for); the window is emptied. Time spent waiting lands on the last step's optimizer share.
    /// </summary>
    private List<StepMetrics> ReadMetrics(List<PendingStep> window)
    {
        if (window.Count == 0) return [];
        var clock = Stopwatch.StartNew();
        float[] values;
        using (NewDisposeScope())
            values = stack(window.SelectMany(pending => new[] { pending.Loss, pending.GradientNorm }).ToArray()).cpu().data<float>().ToArray();
        HostReads++;
        double waited = clock.Elapsed.TotalSeconds;
        var metrics = window.Select((pending, i) =>
        {
            double gradientNorm = values[2 * i + 1];
            var read = pending.Metrics with { Loss = values[2 * i], GradientNorm = gradientNorm, Updated = double.IsFinite(gradientNorm) };
            return i < window.Count - 1 ? read : read with
            {
                StepSeconds = read.StepSeconds + waited,
                OptimizerSeconds = read.OptimizerSeconds + waited,
                Mfu = Options.PeakFlopsPerSecond is double peak ? read.Flops / (read.StepSeconds + waited) / peak : null,
            };
        }).ToList();
        foreach (var pending in window) pending.Dispose();
        window.Clear();
        return metrics;
    }

    /// <summary>
    /// One optimiser step: draw the step's samples (image-text and text-only at the configured
    /// ratio), build per-sample PrefixLM splits, accumulate gradients of the mean suffix
    /// cross-entropy over all micro-batches, clip, update. Call from one thread only. Reads the loss to the host at once:
    /// a loop of steps reads less often through <see cref="TrainSteps"/>.
    /// </summary>
    public StepMetrics TrainStep() => ReadMetrics([TakeStep()])[0];

    /// <summary>One step as <see cref="TrainStep"/> describes, queued without waiting for the device: its loss and gradient norm stay there.</summary>
    private PendingStep TakeStep()
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        double learningRate = optimizer.SetLearningRate(Step);

        using var prepared = NextPreparedStep();
        var (batches, batchReplicas, imageText, textOnly) = (prepared.Batches, prepared.BatchReplicas, prepared.ImageText, prepared.TextOnly);
        long targetTokens = batches.Sum(b => b.TargetTokens);
        long modelTokens = batches.Sum(b => (long)b.PrefixLengths.Sum() + b.SuffixLengths.Sum());
        // Attention's rectangles: every sample padded to its batch's longest prefix and suffix.
        long paddedTokens = batches.Sum(b => b.Size * (b.ImageTokens + b.PrefixTokens.shape[1] + b.DecoderInput.shape[1]));
        double dataSeconds = clock.Elapsed.TotalSeconds;

        optimizer.ZeroGrad();
        CopyMasterWeightsToReplicas();
        Tensor? lossSum = null;
        double forwardSeconds = 0, backwardSeconds = 0;
        // Dropout and drop-path draw from the default generator inside forward and backward, so the run's stream
        // is swapped in for them, holding the process-wide lock; without them nothing is drawn, and trainers in one
        // process keep computing in parallel.
        using (Model.Config.Dropout > 0 || Model.Config.DropPath > 0 ? random.Enter(cuda: replicaDevices.Any(d => d.type == DeviceType.CUDA)) : null)
        for (int b = 0; b < batches.Count; b++)
        {
            // Each micro-batch's summed loss over the step's token count: the gradients add up to
            // those of the mean over every suffix token of the step, however the batches are divided.
            double started = clock.Elapsed.TotalSeconds;
            var (summed, _) = replicas[batchReplicas[b]].SuffixLoss(batches[b]);
            double forwardDone = clock.Elapsed.TotalSeconds;
            summed.DividedBy(targetTokens).backward();
            forwardSeconds += forwardDone - started;
            backwardSeconds += clock.Elapsed.TotalSeconds - forwardDone;
            // Summed on the first device, where it stays until the metrics are read.
            var detached = summed.detach().to(Device);
            lossSum = lossSum is null ? detached : lossSum.Plus(detached);
        }
        var loss = lossSum!.DividedBy(targetTokens).to(ScalarType.Float32);
        GatherReplicaGradients();

        // A non-finite gradient would turn every weight into NaN; the optimiser drops the step's update instead (on the
        // device, unread), and the read metrics report it.
        var gradientNorm = optimizer.Step().to(ScalarType.Float32);
        double stepSeconds = clock.Elapsed.TotalSeconds;
        Step++;

        var flops = SimVlmModel.TrainingFlopsByPart(Model.Config, batches);
        var metrics = new StepMetrics(
            Step, double.NaN, learningRate, double.NaN, true, imageText, textOnly, targetTokens, modelTokens, paddedTokens,
            stepSeconds, dataSeconds, forwardSeconds, backwardSeconds, stepSeconds - dataSeconds - forwardSeconds - backwardSeconds, flops,
            Options.PeakFlopsPerSecond is double peak ? flops.Total / stepSeconds / peak : null);
        return new PendingStep(metrics, loss.DetachFromDisposeScope(), gradientNorm.DetachFromDisposeScope());
    }

    /// <summary>
    /// Stops the background loader and drops the batches it prepared ahead, putting the data's cursor and the split generator
    /// back where the last step taken left them; the next step starts the loader afresh from there. Call before switching the
    /// data under the trainer (DiLoCo's part per round), so that no step trains on batches drawn from the old data.
    /// </summary>
    public void DiscardPreparedBatches()
    {
        if (loader is null) return;
        loader.Dispose();
        loader = null;
        var (dataCursor, splitRandomState) = committedCursor!.Value;
        committedCursor = null;
        data.RestoreCursor(dataCursor);
        splitRandom.State = splitRandomState;
    }

    /// <summary>One step's batches, built ahead of it or at its start, and the data's position right after drawing them.</summary>
    private sealed class PreparedStep : IDisposable
    {
        public required List<PrefixLmBatch> Batches { get; init; }
        /// <summary>The replica that computes each batch.</summary>
        public required List<int> BatchReplicas { get; init; }
        public required int ImageText { get; init; }
        public required int TextOnly { get; init; }
        /// <summary>The data cursor and split generator after this step's draws: what a checkpoint taken after the step saves. Null on the synchronous path, which reads them live.</summary>
        public string? DataCursorAfter { get; init; }
        public ulong SplitRandomStateAfter { get; init; }

        public void Dispose()
        {
            foreach (var batch in Batches) batch.Dispose();
        }
    }

    /// <summary>
    /// The step's batches: from the background loader when <see cref="TrainingOptions.PrefetchSteps"/> asks for one
    /// (started at the first step, from the data's position then), else drawn now. Both call <see cref="PrepareStep"/>
    /// once per step in step order, so they draw the same samples and splits.
    /// </summary>
    private PreparedStep NextPreparedStep()
    {
        if (Options.PrefetchSteps == 0) return PrepareStep(onLoaderThread: false);
        if (loader is null)
        {
            committedCursor = (data.SaveCursor(), splitRandom.State);
            loader = new BackgroundBatchLoader<PreparedStep>(() => PrepareStep(onLoaderThread: true), Options.PrefetchSteps, "SimVLM batch loader");
        }
        var prepared = loader.Take();
        committedCursor = (prepared.DataCursorAfter!, prepared.SplitRandomStateAfter);
        return prepared;
    }

    /// <summary>
    /// Draws the step's samples (image-text and text-only at the configured ratio) and their PrefixLM splits, and builds
    /// the batches: micro-batches, each divided between the replicas. On the loader's thread, batches for a CUDA device
    /// are built in pinned host memory and copied without blocking, so the copy overlaps the step that runs meanwhile.
    /// </summary>
    private PreparedStep PrepareStep(bool onLoaderThread)
    {
        var (imageText, textOnly) = (data.HasImageText, data.HasTextOnly) switch
        {
            (true, true) => PrefixLm.SplitStep(Options.SamplesPerStep, Options.ImageTextRatio, Options.TextOnlyRatio),
            (true, false) => (Options.SamplesPerStep, 0),
            _ => (0, Options.SamplesPerStep),
        };
        var batches = new List<PrefixLmBatch>();
        var batchReplicas = new List<int>();
        void AddBatches(IReadOnlyList<PrefixLmSample> samples)
        {
            // The splits are drawn for the whole batch, in order, before it is divided: every replica
            // count sees the same samples with the same splits.
            int[] splits = samples.Select(sample => PrefixLm.DrawTextPrefixLength(sample, splitRandom)).ToArray();
            for (int r = 0, first = 0; r < replicas.Length; r++)
            {
                int count = EvenShare(samples.Count, r, replicas.Length);
                if (count > 0)
                {
                    var share = samples.Skip(first).Take(count).ToArray();
                    batches.Add(onLoaderThread && replicaDevices[r].type == DeviceType.CUDA
                        ? CopyPinned(PrefixLm.Build(share, splits[first..(first + count)], Model.Config, CPU, floatType), replicaDevices[r])
                        : PrefixLm.Build(share, splits[first..(first + count)], Model.Config, replicaDevices[r], floatType));
                    batchReplicas.Add(r);
                }
                first += count;
            }
        }
        for (int micro = 0; micro < Options.AccumulationSteps; micro++)
        {
            int imageCount = Share(imageText, micro), textCount = Share(textOnly, micro);
            if (imageCount > 0) AddBatches(data.NextImageText(imageCount));
            if (textCount > 0) AddBatches(data.NextTextOnly(textCount));
        }
        return new PreparedStep
        {
            Batches = batches,
            BatchReplicas = batchReplicas,
            ImageText = imageText,
            TextOnly = textOnly,
            DataCursorAfter = onLoaderThread ? data.SaveCursor() : null,
            SplitRandomStateAfter = splitRandom.State,
        };
    }

    /// <summary>A host batch moved to <paramref name="device"/> through pinned memory with non-blocking copies; the host batch is disposed.</summary>
    private static PrefixLmBatch CopyPinned(PrefixLmBatch host, Device device)
    {
        using (host)
        {
            Tensor Move(Tensor tensor)
            {
                using var pinned = tensor.pin_memory();
                return pinned.to(device, non_blocking: true);
            }
            return new PrefixLmBatch
            {
                Size = host.Size,
                Images = host.Images is null ? null : Move(host.Images),
                PrefixTokens = Move(host.PrefixTokens),
                PrefixValid = Move(host.PrefixValid),
                DecoderInput = Move(host.DecoderInput),
                DecoderPositions = Move(host.DecoderPositions),
                DecoderValid = Move(host.DecoderValid),
                Targets = Move(host.Targets),
                PrefixLengths = host.PrefixLengths,
                PrefixTextLengths = host.PrefixTextLengths,
                SuffixLengths = host.SuffixLengths,
                ImageTokens = host.ImageTokens,
            };
        }
    }

    /// <summary>
    /// Holds out <paramref name="sampleCount"/> samples of <paramref name="heldOut"/> (image-text and text-only at the run's
    /// ratio, where it has both) with their PrefixLM splits drawn once, so that every <see cref="ValidationLoss"/> scores
    /// the same texts with the same splits and the curve shows the model, not the draw.
    /// </summary>
    public void UseValidationData(IPrefixLmData heldOut, int sampleCount)
    {
        if (sampleCount < 1) throw new ArgumentOutOfRangeException(nameof(sampleCount), "Validation needs at least one sample.");
        var (imageText, textOnly) = (heldOut.HasImageText, heldOut.HasTextOnly) switch
        {
            (true, true) => PrefixLm.SplitStep(sampleCount, Options.ImageTextRatio, Options.TextOnlyRatio),
            (true, false) => (sampleCount, 0),
            (false, true) => (0, sampleCount),
            _ => throw new ArgumentException("The validation data holds no samples.", nameof(heldOut)),
        };
        PrefixLmSample[] samples = [.. imageText > 0 ? heldOut.NextImageText(imageText) : [], .. textOnly > 0 ? heldOut.NextTextOnly(textOnly) : []];
        var splitDraws = new DeterministicRandom(Options.Seed ^ 0x7A3C1E5B9D2F4861UL);
        validation = (samples, samples.Select(sample => PrefixLm.DrawTextPrefixLength(sample, splitDraws)).ToArray());
    }

    /// <summary>
    /// Mean suffix cross-entropy of the held-out samples (<see cref="UseValidationData"/>) under the current weights, in
    /// evaluation mode (no dropout or drop-path, so nothing is drawn from the run's stream), in batches of a step's size.
    /// </summary>
    public double ValidationLoss()
    {
        var (samples, splits) = validation ?? throw new InvalidOperationException("No validation data: call UseValidationData first.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Model.eval();
        try
        {
            double summed = 0;
            long tokens = 0;
            // A batch holds one kind of sample; image-text samples come first.
            foreach (var kind in samples.Select((sample, i) => (sample, i)).GroupBy(entry => entry.sample.Pixels is null))
                foreach (var chunk in kind.Chunk(Options.SamplesPerStep))
                {
                    using var batch = PrefixLm.Build(chunk.Select(entry => entry.sample).ToArray(), chunk.Select(entry => splits[entry.i]).ToArray(), Model.Config, Device);
                    var (loss, count) = Model.SuffixLoss(batch);
                    summed += loss.item<float>();
                    tokens += count;
                }
            return summed / tokens;
        }
        finally
        {
            Model.train();
        }
    }

    /// <summary>Every replica but <see cref="Model"/> itself starts the step from the master weights (device to device, cast to its type).</summary>
    private void CopyMasterWeightsToReplicas()
    {
        using var noGrad = no_grad();
        foreach (var replica in replicas.Where(r => r != Model))
            foreach (var (master, copy) in Model.parameters().Zip(replica.parameters()))
            {
                copy.copy_(master);
                copy.grad = null;
            }
    }

    /// <summary>
    /// The master weights' gradients become the sum of every replica's, copied to the first device
    /// in float32: each replica's loss was already divided by the whole step's token count, so the
    /// sum is the gradient of the step's mean loss.
    /// </summary>
    private void GatherReplicaGradients()
    {
        if (replicas is [var only] && only == Model) return;
        using var noGrad = no_grad();
        var others = replicas.Where(r => r != Model).Select(r => r.parameters().ToArray()).ToArray();
        int index = 0;
        foreach (var master in Model.parameters())
        {
            Tensor? total = replicas[0] == Model ? master.grad : null;
            foreach (var replica in others)
            {
                var gradient = replica[index].grad;
                if (gradient is null) continue;
                var copied = gradient.to(ScalarType.Float32).to(Device);
                total = total is null ? copied : total.Plus(copied);
            }
            master.grad = total;
            index++;
        }
    }

    /// <summary>Replica <paramref name="replica"/>'s share of <paramref name="total"/> samples, contiguous and spread evenly.</summary>
    private static int EvenShare(int total, int replica, int replicaCount) =>
        total / replicaCount + (replica < total % replicaCount ? 1 : 0);

    /// <summary>Micro-batch <paramref name="micro"/>'s share of <paramref name="total"/> samples, spread evenly.</summary>
    private int Share(int total, int micro) =>
        total / Options.AccumulationSteps + (micro < total % Options.AccumulationSteps ? 1 : 0);

    /// <summary>Saves the complete training state (see <see cref="Checkpoint"/>) and returns its folder.</summary>
    public string SaveCheckpoint(string directory) => Checkpoint.Save(directory, Step, folder =>
    {
        Model.save(Path.Combine(folder, Checkpoint.ModelFile));
        optimizer.Save(Path.Combine(folder, Checkpoint.OptimizerFile));
        SaveDescription(folder);
    });

    /// <summary>
    /// Writes only what a checkpoint holds besides tensors (<see cref="Checkpoint.StateFile"/> and the vocabulary) into
    /// <paramref name="folder"/>: enough to describe the model to one who has its weights from elsewhere, not to resume.
    /// </summary>
    public void SaveDescription(string folder)
    {
        Tokenizer.Save(Path.Combine(folder, Checkpoint.VocabularyFile));
        Checkpoint.WriteState(folder, new TrainerState
        {
            Step = Step,
            Config = Model.Config,
            Options = Options,
            DataCursor = committedCursor?.DataCursor ?? data.SaveCursor(),
            SplitRandomState = committedCursor?.SplitRandomState ?? splitRandom.State,
            TorchRandomState = Convert.ToBase64String(random.CpuState),
            CudaRandomEntries = random.CudaEntries,
        });
    }

    public void Dispose()
    {
        loader?.Dispose();
        optimizer.Dispose();
        foreach (var replica in replicas.Where(r => r != Model)) replica.Dispose();
        Model.Dispose();
    }
}
