using Platform.Datasets;

namespace Platform.Model.Training;

/// <summary>What `platform train` asks for: data, model preset, options, and whether to continue a saved run.</summary>
public sealed record TrainingRunRequest
{
    /// <summary>Image-text shards: the files of `--data`, or a dataset's committed shards in manifest order.</summary>
    public required IReadOnlyList<DatasetShard> Shards { get; init; }
    public IReadOnlyList<string> Documents { get; init; } = [];
    public required SimVlmConfig Preset { get; init; }
    public required TrainingOptions Options { get; init; }
    /// <summary>Continue from the newest checkpoint in the output folder instead of starting afresh.</summary>
    public bool Resume { get; init; }
    public int ShuffleBuffer { get; init; } = 1000;
    /// <summary>
    /// Subword model of a new run: "gpt2" (default) or "sentencepiece:PATH" (see
    /// <see cref="TextTokenizer.Build(string, IEnumerable{string}, int)"/>). A resumed run keeps the one in its checkpoint.
    /// </summary>
    public string Tokenizer { get; init; } = TextTokenizer.Gpt2;

    /// <summary>Held-out image-text shards whose loss <see cref="TrainingOptions.ValidateEvery"/> reports; none validates nothing.</summary>
    public IReadOnlyList<DatasetShard> ValidationShards { get; init; } = [];
}

/// <summary>Sets up a training run from files on disk: the vocabulary from the data's texts, the streaming data, the trainer.</summary>
public static class TrainingRun
{
    /// <summary>
    /// A new run builds the restricted vocabulary from every caption and document (capacity: the
    /// preset's VocabSize) and sizes the model to it; a resumed run takes model, vocabulary and
    /// options from its checkpoint, with the requested step count and device settings; when the newest checkpoint does not
    /// load, from the newest older one that does (see <see cref="SimVlmTrainer.SkippedCheckpoints"/>).
    /// </summary>
    public static SimVlmTrainer Create(TrainingRunRequest request)
    {
        var trainer = CreateTrainer(request);
        if (request.ValidationShards.Count == 0) return trainer;
        try
        {
            var heldOut = new ShardPrefixLmData(request.ValidationShards, [], trainer.Tokenizer, trainer.Model.Config, trainer.Options.Seed, request.ShuffleBuffer);
            trainer.UseValidationData(heldOut, trainer.Options.ValidationSamples);
            return trainer;
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
    }

    private static SimVlmTrainer CreateTrainer(TrainingRunRequest request)
    {
        string directory = request.Options.CheckpointDirectory ?? throw new ArgumentException("A training run needs a checkpoint directory.");
        if (request.Resume)
        {
            if (Checkpoint.NewestFirst(directory).Count == 0) throw new InvalidOperationException($"--resume: {directory} holds no checkpoint; leave out --resume to start a new run there.");
            return SimVlmTrainer.ResumeNewestLoadable(directory, (state, tokenizer) => (
                new ShardPrefixLmData(request.Shards, request.Documents, tokenizer, state.Config, state.Options.Seed, request.ShuffleBuffer),
                state.Options with
                {
                    Steps = request.Options.Steps, Device = request.Options.Device, Threads = request.Options.Threads,
                    PeakFlopsPerSecond = request.Options.PeakFlopsPerSecond, CheckpointDirectory = directory,
                    ValidateEvery = request.Options.ValidateEvery, ValidationSamples = request.Options.ValidationSamples,
                    PrefetchSteps = request.Options.PrefetchSteps, MetricsEvery = request.Options.MetricsEvery,
                }));
        }
        if (Checkpoint.NewestFirst(directory).Count > 0)
            throw new InvalidOperationException($"{directory} already holds checkpoints; pass --resume to continue that run or choose another folder.");
        var newTokenizer = TextTokenizer.Build(request.Tokenizer, ShardPrefixLmData.ReadAllTexts(request.Shards, request.Documents), request.Preset.VocabSize);
        var config = request.Preset with { VocabSize = newTokenizer.VocabSize };
        var newData = new ShardPrefixLmData(request.Shards, request.Documents, newTokenizer, config, request.Options.Seed, request.ShuffleBuffer);
        return SimVlmTrainer.Start(config, request.Options, newTokenizer, newData);
    }

    /// <summary>
    /// Continues the run in the request's checkpoint directory when it holds a checkpoint, else starts it: what a
    /// scheduled trainer does on every attempt, since it cannot know whether an earlier attempt got as far as saving.
    /// </summary>
    public static SimVlmTrainer CreateOrResume(TrainingRunRequest request)
    {
        string directory = request.Options.CheckpointDirectory ?? throw new ArgumentException("A training run needs a checkpoint directory.");
        return Create(request with { Resume = Checkpoint.NewestFirst(directory).Count > 0 });
    }
}
