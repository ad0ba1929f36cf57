using System.CommandLine;
using System.Globalization;
using Platform.Datasets;
using Platform.Model;
using Platform.Model.Training;
using Platform.Silo.Hosting;

namespace Platform.Silo.Cli;

/// <summary>`platform train` and `platform caption`: thin wrappers over the Model library.</summary>
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
        var preset = new Option<string>("--preset") { Description = "Model size: tiny or base.", DefaultValueFactory = _ => "tiny" };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps of the whole run.", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for checkpoints.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out." };
        var batch = new Option<int>("--batch") { Description = "Samples per step.", DefaultValueFactory = _ => new TrainingOptions().SamplesPerStep };
        var learningRate = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => new TrainingOptions().PeakLearningRate };
        var warmup = new Option<int>("--warmup") { Description = "Warmup steps.", DefaultValueFactory = _ => new TrainingOptions().WarmupSteps };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints.", DefaultValueFactory = _ => new TrainingOptions().CheckpointEvery };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch (0: its default)." };
        var device = new Option<string>("--device") { Description = "auto, cpu or cuda.", DefaultValueFactory = _ => "auto" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "Subword model of a new run: gpt2, or sentencepiece:PATH for a SentencePiece .model file.", DefaultValueFactory = _ => TextTokenizer.Gpt2 };
        var precision = new Option<string>("--precision") { Description = "auto (bf16 on CUDA, fp32 on the CPU), fp32 or bf16.", DefaultValueFactory = _ => "auto" };
        var seed = new Option<ulong>("--seed") { Description = "Seed for initialisation, data order and splits.", DefaultValueFactory = _ => 1UL };

        var command = new Command("train", "Pretrain SimVLM with PrefixLM on image-text shards (and text documents).");
        foreach (var option in new Option[] { data, dataset, text, preset, steps, output, resume, batch, learningRate, warmup, checkpointEvery, threads, device, precision, tokenizer, seed })
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
            var request = new TrainingRunRequest
            {
                Shards = shards,
                Documents = result.GetValue(text) ?? [],
                Preset = SimVlmConfig.Preset(result.GetValue(preset)!),
                Resume = result.GetValue(resume),
                Tokenizer = result.GetValue(tokenizer)!,
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
                    CheckpointDirectory = result.GetValue(output),
                },
            };
            using var trainer = TrainingRun.Create(request);
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
    private static async Task<IReadOnlyList<DatasetShard>?> CommittedShardsAsync(string name, CancellationToken cancellationToken)
    {
        var source = new ConfigurationBuilder();
        PlatformConfiguration.AddSources(source);
        try
        {
            DatasetNames.Validate(name);
            var configuration = PlatformConfiguration.Load(source.Build());
            var manifests = new DatasetManifestStore(configuration.StorageConnection.CreateBlobClient(), configuration.Storage.ManifestContainer);
            var committed = (await manifests.ReadAsync(name, cancellationToken)).Entries;
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
            var (model, tokenizer) = Checkpoint.LoadForInference(result.GetValue(checkpoint)!);
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

    /// <summary>`platform bench train`: matmul peak (fp32 on the CPU, bf16 on CUDA), then training throughput; the last line is mfu=achieved/peak.</summary>
    public static Command CreateBenchTrain()
    {
        var preset = new Option<string>("--preset") { Description = "Model size: tiny or base.", DefaultValueFactory = _ => "tiny" };
        var steps = new Option<int>("--steps") { Description = "Measured steps (after 2 warmup steps).", DefaultValueFactory = _ => 5 };
        // 36 = 32 image-text + 4 text-only samples (8:1): twice the training default, which keeps the
        // matmuls large enough and the optimiser's fixed per-step cost under a tenth of the step on two cores.
        var batch = new Option<int>("--batch") { Description = "Samples per step.", DefaultValueFactory = _ => 36 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch (0: its default)." };
        var device = new Option<string>("--device") { Description = "auto, cpu or cuda.", DefaultValueFactory = _ => "auto" };
        var command = new Command("train", "Measure PrefixLM training throughput and MFU against the device's measured matmul peak (fp32 on the CPU, bf16 on CUDA).");
        foreach (var option in new Option[] { preset, steps, batch, threads, device }) command.Options.Add(option);
        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            var options = new TrainingOptions { SamplesPerStep = result.GetValue(batch), Threads = result.GetValue(threads), Device = result.GetValue(device)! };
            var benchmark = TrainingBenchmark.Run(SimVlmConfig.Preset(result.GetValue(preset)!), options, measuredSteps: result.GetValue(steps));
            string Share(double part, double whole) => string.Create(CultureInfo.InvariantCulture, $"{part / whole:F3}");
            var b = benchmark;
            var f = b.FlopsByPart;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"device={b.Device} threads={b.Threads} peak_{b.PeakType}_flops={b.PeakFlopsPerSecond:E3}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"steps={b.MeasuredSteps} step_s={b.SecondsPerStep:F3} fastest_step_s={b.FastestStepSeconds:F3} flops_per_step={b.FlopsPerStep:E3} tokens/s={b.TokensPerSecond:F0}"));
            Console.WriteLine("flops_per_step = 3 x forward (backward costs twice the forward); forward per sample = stem convolutions + 2 w^2 per token per w x w projection (4 per encoder layer; 6 per decoder layer, plus cross-attention keys and values: 2 per decoder layer per encoder token) + 4 w per token per key attended, per attention + 4 w mlp per token per MLP + 2 w vocabulary per suffix token (w = width; a multiply-add counts 2)");
            Console.WriteLine($"time_share data={Share(b.DataSeconds, b.SecondsPerStep)} forward={Share(b.ForwardSeconds, b.SecondsPerStep)} backward={Share(b.BackwardSeconds, b.SecondsPerStep)} optimizer={Share(b.OptimizerSeconds, b.SecondsPerStep)}");
            Console.WriteLine($"padding_share={Share(b.PaddingShare, 1)} of the positions in attention's rectangles (attention alone computes them; norms, projections, MLPs and the output layer run on real tokens only)");
            Console.WriteLine($"stem_time_share={Share(b.StemSeconds, b.ForwardSeconds + b.BackwardSeconds)} of forward+backward (timed alone)");
            Console.WriteLine($"flops_share stem={Share(f.Stem, f.Total)} projections={Share(f.Projections, f.Total)} attention={Share(f.Attention, f.Total)} mlp={Share(f.Mlp, f.Total)} output_layer={Share(f.OutputLayer, f.Total)}");
            if (b.CpuTimeMfu is double cpuTimeMfu)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cpu_time_mfu={cpuTimeMfu:F4} (FLOPs per second of this process's processor time, step over matmul: unaffected by other load on the cores)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fastest_step_mfu={b.FastestStepMfu:F4}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mfu={benchmark.Mfu:F4}"));
            return Task.FromResult(0);
        });
        return command;
    }

    private static string Describe(TrainingEvent trainingEvent) => trainingEvent switch
    {
        StepCompleted { Metrics: var m } => string.Create(CultureInfo.InvariantCulture,
            $"step={m.Step} loss={m.Loss:F4} lr={m.LearningRate:E2} grad_norm={m.GradientNorm:F3}{(m.Updated ? "" : " (update skipped: non-finite gradient)")} " +
            $"tokens/s={m.TokensPerSecond:F0} step_ms={m.StepSeconds * 1000:F0} data_ms={m.DataSeconds * 1000:F0} forward_ms={m.ForwardSeconds * 1000:F0} backward_ms={m.BackwardSeconds * 1000:F0} " +
            $"optimizer_ms={m.OptimizerSeconds * 1000:F0} flops={m.Flops:E3}{(m.Mfu is double mfu ? $" mfu={mfu:F4}" : "")}"),
        CheckpointSaved saved => $"checkpoint step={saved.Step} folder={saved.Folder}",
        TrainingFinished finished => $"finished step={finished.Step}{(finished.Cancelled ? " (cancelled; checkpoint saved)" : "")}",
        _ => trainingEvent.ToString() ?? "",
    };
}
