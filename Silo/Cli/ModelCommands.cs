using System.CommandLine;
using System.Globalization;
using Platform.Datasets;
using Platform.Model;
using Platform.Model.Training;
using Platform.Silo.Hosting;

namespace Platform.Silo.Cli;

/// <summary>`platform train`, `platform caption` and `platform export`: thin wrappers over the Model library.</summary>
public static class ModelCommands
{
    public static Command CreateTrain()
    {
        var data = new Option<string[]>("--data") { Description = "WebDataset shards (.tar) of image-caption pairs.", AllowMultipleArgumentsPerToken = true };
        var dataset = new Option<string>("--dataset")
        {
            Description = "Instead of --data: a dataset's name. Trains on its committed shards in manifest (commit) order, read from the folder or blob " +
                "container its manifest names, with the platform's storage settings (Storage:ConnectionString, Storage:ManifestContainer).",
        };
        var text = new Option<string[]>("--text") { Description = "Text-only documents (JSON lines with a \"text\" field), mixed in 8:1.", AllowMultipleArgumentsPerToken = true };
        var preset = new Option<string>("--preset") { Description = "Model size: tiny, base, large or huge.", DefaultValueFactory = _ => "tiny" };
        var dropout = new Option<double>("--dropout") { Description = "Dropout on attention, residual branches and embeddings (the paper pretrains with none; a new run only)." };
        var validateEvery = new Option<int>("--validate-every") { Description = "Report the loss on the held-out --validation-shards after every N steps (0: never)." };
        var validationShards = new Option<string[]>("--validation-shards") { Description = "Held-out WebDataset shards (.tar) for --validate-every.", AllowMultipleArgumentsPerToken = true };
        var validationSamples = new Option<int>("--validation-samples") { Description = "Held-out samples each validation scores (the same ones every time).", DefaultValueFactory = _ => new TrainingOptions().ValidationSamples };
        var dropPath = new Option<double>("--drop-path") { Description = "Drop-path (stochastic depth) rate on the conv stage and the encoder (the paper: 0 in pretraining; a new run only)." };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps of the whole run.", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for checkpoints.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out." };
        var batch = new Option<int>("--batch") { Description = "Samples per step.", DefaultValueFactory = _ => new TrainingOptions().SamplesPerStep };
        var learningRate = new Option<double>("--lr", "--learning-rate") { Description = "Peak learning rate.", DefaultValueFactory = _ => new TrainingOptions().PeakLearningRate };
        var warmup = new Option<int>("--warmup") { Description = "Warmup steps.", DefaultValueFactory = _ => new TrainingOptions().WarmupSteps };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints.", DefaultValueFactory = _ => new TrainingOptions().CheckpointEvery };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch (0: its default)." };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda (libtorch's default GPU) or cuda:N (GPU number N).", DefaultValueFactory = _ => "auto" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "Subword model of a new run: gpt2, or sentencepiece:PATH for a SentencePiece .model file (such as `platform tokenizer train` writes).", DefaultValueFactory = _ => TextTokenizer.Gpt2 };
        var precision = new Option<string>("--precision") { Description = "auto (bf16 on CUDA, fp32 on the CPU), fp32 or bf16.", DefaultValueFactory = _ => "auto" };
        var prefetch = new Option<int>("--prefetch")
        {
            Description = "Steps whose batches a background thread prepares ahead of the step (0: each step builds its own; the batches are the same).",
            DefaultValueFactory = _ => new TrainingOptions().PrefetchSteps,
        };
        var logEvery = new Option<int>("--log-every")
        {
            Description = "Read the loss and gradient norm to the host every N steps (and at checkpoints, validations and the last step); every step is still printed, in batches.",
            DefaultValueFactory = _ => new TrainingOptions().MetricsEvery,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed for initialisation, data order and splits.", DefaultValueFactory = _ => 1UL };

        var command = new Command("train", "Pretrain SimVLM with PrefixLM on image-text shards (and text documents).");
        foreach (var option in new Option[] { data, dataset, text, preset, steps, output, resume, batch, learningRate, warmup, checkpointEvery, threads, device, precision, tokenizer, seed, dropout, dropPath, validateEvery, validationShards, validationSamples, prefetch, logEvery })
            command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var files = result.GetValue(data) is { Length: > 0 } given ? given : null;
            var name = result.GetValue(dataset);
            if ((files is null) == (name is null))
            {
                Console.Error.WriteLine("Give exactly one of --data (shard files) and --dataset (a dataset's name).");
                return 2;
            }
            var shards = files?.Select(DatasetShard.File).ToList() ?? await CommittedShardsAsync(name!, cancellationToken);
            if (shards is null) return 2;
            SimVlmConfig presetConfig;
            try
            {
                presetConfig = (SimVlmConfig.Preset(result.GetValue(preset)!) with { Dropout = result.GetValue(dropout), DropPath = result.GetValue(dropPath) }).Validate();
            }
            catch (ArgumentException e)
            {
                return CommandInputErrors.Report("train", e);
            }
            var request = new TrainingRunRequest
            {
                Shards = shards,
                Documents = result.GetValue(text) ?? [],
                Preset = presetConfig,
                Resume = result.GetValue(resume),
                Tokenizer = result.GetValue(tokenizer)!,
                ValidationShards = (result.GetValue(validationShards) ?? []).Select(DatasetShard.File).ToList(),
                Options = new TrainingOptions
                {
                    Steps = result.GetValue(steps),
                    SamplesPerStep = result.GetValue(batch),
                    PeakLearningRate = result.GetValue(learningRate),
                    WarmupSteps = result.GetValue(warmup),
                    CheckpointEvery = result.GetValue(checkpointEvery),
                    Threads = result.GetValue(threads),
                    Device = result.GetValue(device)!,
                    Precision = result.GetValue(precision)!,
                    Seed = result.GetValue(seed),
                    ValidateEvery = result.GetValue(validateEvery),
                    ValidationSamples = result.GetValue(validationSamples),
                    PrefetchSteps = result.GetValue(prefetch),
                    MetricsEvery = result.GetValue(logEvery),
                    CheckpointDirectory = result.GetValue(output),
                },
            };
            SimVlmTrainer trainer;
            try
            {
                trainer = TrainingRun.Create(request);
            }
            catch (Exception e) when (e is InvalidOperationException || CommandInputErrors.IsInputError(e))
            {
                return CommandInputErrors.Report("train", e);
            }
            using var disposeTrainer = trainer;
            foreach (var skipped in trainer.SkippedCheckpoints)
                Console.Error.WriteLine($"Skipped a checkpoint that cannot be loaded, resuming from an older one: {skipped}");
            Console.WriteLine($"device={trainer.Device.type} parameters={trainer.Model.ParameterCount():N0} tokenizer={trainer.Tokenizer.BaseName} vocabulary={trainer.Tokenizer.VocabSize} from_step={trainer.Step}");
            await foreach (var trainingEvent in trainer.RunAsync(cancellationToken: cancellationToken))
                Console.WriteLine(Describe(trainingEvent));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// The committed shards of a dataset, in manifest order, as the platform's storage settings find its manifest; null
    /// (after saying why on stderr) when the settings, the name or the manifest do not give any.
    /// </summary>
    internal static async Task<IReadOnlyList<DatasetShard>?> CommittedShardsAsync(string name, CancellationToken cancellationToken)
    {
        var source = new ConfigurationBuilder();
        PlatformConfiguration.AddSources(source);
        try
        {
            DatasetNames.Validate(name);
            var configuration = PlatformConfiguration.Load(source.Build());
            var manifests = new DatasetManifestStore(configuration.StorageConnection.CreateBlobClient(CommandLineStorage.ClientOptions()), configuration.Storage.ManifestContainer);
            List<ManifestShard> committed;
            try
            {
                committed = (await manifests.ReadAsync(name, cancellationToken)).Entries;
            }
            catch (Exception e) when (CommandLineStorage.IsUnreachable(e, out string why))
            {
                Console.Error.WriteLine($"Cannot reach the platform's blob storage at {configuration.StorageConnection.BlobEndpoint.ToString().TrimEnd('/')} " +
                    $"to read dataset '{name}' ({why}): start the platform (`platform up`), or set Storage:ConnectionString " +
                    "(PLATFORM_Storage__ConnectionString) to the account that holds the dataset.");
                return null;
            }
            if (committed.Count == 0)
            {
                Console.Error.WriteLine($"Dataset '{name}' does not exist or has no committed shards " +
                    $"(no manifest under {configuration.StorageConnection.BlobEndpoint.ToString().TrimEnd('/')}/{configuration.Storage.ManifestContainer}/{DatasetManifestStore.SegmentPrefix(name)}).");
                return null;
            }
            Console.WriteLine($"dataset={name} shards={committed.Count} samples={committed.Sum(shard => shard.SampleCount)}");
            return [.. committed.Select(manifests.Resolve)];
        }
        catch (Exception e) when (e is ArgumentException or PlatformConfigurationException or Azure.RequestFailedException)
        {
            Console.Error.WriteLine(e is Azure.RequestFailedException ? $"Cannot read the manifest of dataset '{name}': {e.Message}" : e.Message);
            return null;
        }
    }

    public static Command CreateCaption()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint folder, or a run folder (its newest checkpoint).", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "Text the caption continues, e.g. \"A picture of\".", DefaultValueFactory = _ => "" };
        var beam = new Option<int>("--beam") { Description = "Beam size; 1 decodes greedily.", DefaultValueFactory = _ => 1 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Longest caption in tokens.", DefaultValueFactory = _ => 30 };
        var images = new Argument<string[]>("images") { Arity = ArgumentArity.OneOrMore, Description = "Image files." };
        var command = new Command("caption", "Caption images with a trained checkpoint.");
        command.Options.Add(checkpoint);
        command.Options.Add(prompt);
        command.Options.Add(beam);
        command.Options.Add(maxTokens);
        command.Arguments.Add(images);
        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            SimVlmModel model;
            TextTokenizer tokenizer;
            try
            {
                (model, tokenizer) = Checkpoint.LoadForInference(result.GetValue(checkpoint)!);
            }
            catch (Exception e) when (CommandInputErrors.IsInputError(e))
            {
                return Task.FromResult(CommandInputErrors.Report("caption", e));
            }
            using (model)
            {
                var captions = new ImageCaptioner(model, tokenizer).Caption(result.GetValue(images)!, result.GetValue(prompt)!, result.GetValue(beam), result.GetValue(maxTokens));
                foreach (var caption in captions)
                    Console.WriteLine(caption.Caption is null ? $"{caption.Path}\t(skipped: {caption.Problem})" : $"{caption.Path}\t{caption.Caption}");
                return Task.FromResult(captions.Any(c => c.Caption is null) ? 1 : 0);
            }
        });
        return command;
    }

    public static Command CreateExport()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint folder, or a run folder (its newest checkpoint).", Required = true };
        var output = new Option<string>("--out") { Description = "Folder to write the export into (created if needed).", Required = true };
        var command = new Command("export", "Export a checkpoint for PyTorch and other frameworks: safetensors weights, config.json, the tokenizer's standard files and a README of tensor names.");
        command.Options.Add(checkpoint);
        command.Options.Add(output);
        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            string folder = result.GetValue(output)!;
            try
            {
                if (File.Exists(folder)) throw new IOException($"--out {folder} is a file: give a folder for the export.");
                var (model, tokenizer) = Checkpoint.LoadForInference(result.GetValue(checkpoint)!);
                using (model)
                {
                    foreach (var file in SafetensorsExport.Export(model, tokenizer, folder))
                        Console.WriteLine($"wrote {file}");
                    Console.WriteLine($"tensors={model.state_dict().Count} parameters={model.ParameterCount()} vocabulary={tokenizer.VocabSize} tokenizer={tokenizer.BaseName}");
                }
                return Task.FromResult(0);
            }
            catch (Exception e) when (e is IOException || CommandInputErrors.IsInputError(e))
            {
                return Task.FromResult(CommandInputErrors.Report("export", e));
            }
        });
        return command;
    }

    private static string Describe(TrainingEvent trainingEvent) => trainingEvent switch
    {
        StepCompleted { Metrics: var m } => string.Create(CultureInfo.InvariantCulture,
            $"step={m.Step} loss={m.Loss:F4} lr={m.LearningRate:E2} grad_norm={m.GradientNorm:F3}{(m.Updated ? "" : " (update skipped: non-finite gradient)")} " +
            $"tokens/s={m.TokensPerSecond:F0} step_ms={m.StepSeconds * 1000:F0} data_ms={m.DataSeconds * 1000:F0} forward_ms={m.ForwardSeconds * 1000:F0} backward_ms={m.BackwardSeconds * 1000:F0} " +
            $"optimizer_ms={m.OptimizerSeconds * 1000:F0} flops={m.Flops:E3}{(m.Mfu is double mfu ? $" mfu={mfu:F4}" : "")}{(m.ValidationLoss is double validationLoss ? $" validation_loss={validationLoss:F4}" : "")}"),
        CheckpointSaved saved => $"checkpoint step={saved.Step} folder={saved.Folder}",
        TrainingFinished finished => $"finished step={finished.Step}{(finished.Cancelled ? " (cancelled; checkpoint saved)" : "")}",
        _ => trainingEvent.ToString() ?? "",
    };
}
