using System.CommandLine;
using System.Globalization;
using System.Text;
using Platform.Datasets;
using Platform.Grains.Training;
using Platform.Silo.Hosting;

namespace Platform.Silo.Cli;

/// <summary>
/// `platform train submit|status|list|cancel|pause|resume`: training runs on a running platform, scheduled on its devices.
/// They are subcommands of the one-process `platform train`, which keeps its own options and action: System.CommandLine
/// checks a command's required options only when that command is the one invoked, so `train --steps N --out DIR`
/// trains here and `train submit ...` does not ask for `--out`.
/// </summary>
public static class TrainClusterCommands
{
    /// <summary>Adds the cluster commands to the `train` command and returns it.</summary>
    public static Command AddTo(Command train)
    {
        train.Subcommands.Add(CreateSubmit(train));
        train.Subcommands.Add(CreateStatus());
        train.Subcommands.Add(CreateList());
        train.Subcommands.Add(CreateControl("cancel", "Stop a training run for good: its trainer stops after the current step and its devices are released.",
            (scheduler, run) => scheduler.Cancel(run)));
        train.Subcommands.Add(CreateControl("pause", "Checkpoint a training run and release its devices; `train resume` queues it again.",
            (scheduler, run) => scheduler.Pause(run)));
        train.Subcommands.Add(CreateControl("resume", "Queue a paused training run again; it continues from its latest checkpoint.",
            (scheduler, run) => scheduler.Resume(run)));
        return train;
    }

    private static Command CreateSubmit(Command train)
    {
        // The model and optimiser options are the one-process command's own option objects, so the two cannot drift apart
        // in names, help or defaults.
        Option<T> Shared<T>(string name) => (Option<T>)train.Options.Single(o => o.Name == name);
        var text = Shared<string[]>("--text");
        var preset = Shared<string>("--preset");
        var steps = Shared<int>("--steps");
        var batch = Shared<int>("--batch");
        var learningRate = Shared<double>("--lr");
        var warmup = Shared<int>("--warmup");
        var checkpointEvery = Shared<int>("--checkpoint-every");
        var threads = Shared<int>("--threads");
        var precision = Shared<string>("--precision");
        var tokenizer = Shared<string>("--tokenizer");
        var seed = Shared<ulong>("--seed");
        var prefetch = Shared<int>("--prefetch");

        var defaults = new TrainingRunSpec { RunId = "", Dataset = "" };
        var dataset = new Option<string>("--dataset")
        {
            Description = "The dataset to train on, by name: its committed shards in manifest order, read by the silo that trains.", Required = true,
        };
        var devices = new Option<int>("--devices") { Description = "Devices the run needs, all of one kind, allocated together or not at all.", DefaultValueFactory = _ => defaults.Devices };
        var deviceKind = new Option<string?>("--device-kind") { Description = "cuda or cpu; default: any kind." };
        var priority = new Option<int>("--priority") { Description = "Higher runs are placed first; equal priorities in submission order.", DefaultValueFactory = _ => defaults.Priority };
        var location = new Option<string?>("--checkpoint-location")
        {
            Description = "The run's checkpoint folder, on storage every silo can reach, or a blob container http(s)://account-endpoint/container[/prefix] in the platform's storage account; default Training:CheckpointRoot/RUN. A run of several trainers also exchanges its rounds there (DIR/diloco or prefix/diloco/).",
        };
        var keepLast = new Option<int>("--keep-last") { Description = "Keep the newest K checkpoints once evaluated (0: keep all); the latest is always kept." };
        var keepEvery = new Option<int>("--keep-every") { Description = "Also keep every checkpoint whose step is a multiple of M." };
        var evaluations = new Option<string?>("--eval")
        {
            Description = $"Evaluate every checkpoint on these tasks, comma separated: coco-captions, vqa, retrieval, snli-ve, nlvr2, nocaps (needs --eval-data); `{NoEvaluations}` for none. Default: coco-captions and vqa on the generated benchmark (Training:BenchmarkData), each on its first {DefaultEvaluations.MaxImages} test images.",
        };
        var evaluationData = new Option<string?>("--eval-data") { Description = "The evaluations' data folder, as `platform benchmark-data --out DIR` writes it, readable by every silo." };
        var evaluationDefaults = new RunEvaluation("", "");
        var evaluationSplit = new Option<string>("--eval-split") { Description = "Split the evaluations score.", DefaultValueFactory = _ => evaluationDefaults.Split };
        var evaluationMaxImages = new Option<int?>("--eval-max-images") { Description = "Score only the split's first N images at each checkpoint." };
        var evaluationDevice = new Option<string?>("--eval-device")
        {
            Description = $"`{RunEvaluation.OnCpu}`: evaluate on the CPU of any silo. Default: on a device the scheduler lends while no queued run needs it (never a trainer's).",
        };
        var trainers = new Option<int>("--trainers")
        {
            Description = "DiLoCo replicas (K), each on its own device (any silo) and its own part of the data; 1: an ordinary run.", DefaultValueFactory = _ => defaults.Trainers,
        };
        var syncEvery = new Option<int>("--sync-every") { Description = "Local steps of each replica between synchronisations (DiLoCo's H).", DefaultValueFactory = _ => defaults.SyncEvery };
        var outerLearningRate = new Option<double>("--outer-lr") { Description = "Learning rate of the outer Nesterov step.", DefaultValueFactory = _ => defaults.OuterLearningRate };
        var outerMomentum = new Option<double>("--outer-momentum") { Description = "Momentum of the outer Nesterov step, in [0, 1).", DefaultValueFactory = _ => defaults.OuterMomentum };
        var syncPrecision = new Option<string>("--sync-precision") { Description = "fp32 or bf16: the number format pseudo-gradients travel in.", DefaultValueFactory = _ => defaults.SyncPrecision };
        var run = new Option<string?>("--run") { Description = "The run's id (letters, digits, '.', '-', '_'); default: generated and printed. Submitting an id again finds that run." };

        var command = new Command("submit", "Queue a training run on the running platform's devices and print its id.");
        foreach (var option in new Option[]
                 {
                     dataset, text, preset, steps, devices, deviceKind, priority, checkpointEvery, location, keepLast, keepEvery, evaluations, evaluationData,
                     evaluationSplit, evaluationMaxImages, evaluationDevice, run, batch, learningRate, warmup, precision, seed, threads, tokenizer,
                     trainers, syncEvery, outerLearningRate, outerMomentum, syncPrecision, prefetch,
                 })
            command.Options.Add(option);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var (runEvaluations, evaluationProblem) = Evaluations(result.GetValue(evaluations), result.GetValue(evaluationData), result.GetValue(evaluationSplit)!,
                result.GetValue(evaluationMaxImages), result.GetValue(evaluationDevice));
            if (evaluationProblem is not null)
            {
                Console.Error.WriteLine(evaluationProblem);
                return 2;
            }
            var runId = result.GetValue(run);
            var spec = new TrainingRunSpec
            {
                RunId = runId ?? TrainingSubmissions.NewRunId(DateTimeOffset.UtcNow),
                Dataset = result.GetValue(dataset)!,
                TextDocuments = result.GetValue(text) ?? [],
                Preset = result.GetValue(preset)!,
                Steps = result.GetValue(steps),
                SamplesPerStep = result.GetValue(batch),
                PeakLearningRate = result.GetValue(learningRate),
                WarmupSteps = result.GetValue(warmup),
                Precision = result.GetValue(precision)!,
                Seed = result.GetValue(seed),
                Devices = result.GetValue(devices),
                DeviceKind = result.GetValue(deviceKind),
                Priority = result.GetValue(priority),
                CheckpointEvery = result.GetValue(checkpointEvery),
                CheckpointLocation = result.GetValue(location),
                Retention = new CheckpointRetentionPolicy { KeepLast = result.GetValue(keepLast), KeepEvery = result.GetValue(keepEvery) },
                Evaluations = runEvaluations,
                Tokenizer = result.GetValue(tokenizer)!,
                Threads = result.GetValue(threads),
                Trainers = result.GetValue(trainers),
                SyncEvery = result.GetValue(syncEvery),
                OuterLearningRate = result.GetValue(outerLearningRate),
                OuterMomentum = result.GetValue(outerMomentum),
                SyncPrecision = result.GetValue(syncPrecision)!,
                Prefetch = result.GetValue(prefetch),
            };
            return await IngestClusterCommands.WithClientAsync(async (grains, configuration) =>
            {
                var scheduler = Scheduler(grains);
                // A run id the scheduler knows is that run, unchanged: say so rather than check a spec it will not use.
                if (TrainingRunIds.Problem(spec.RunId) is null && await scheduler.Get(spec.RunId) is { } existing)
                {
                    Console.WriteLine(existing.RunId);
                    Console.Error.WriteLine($"Run {existing.RunId} was submitted before; it is unchanged. {Describe(existing)}");
                    return 0;
                }
                var manifests = new DatasetManifestStore(configuration.StorageConnection.CreateBlobClient(), configuration.Storage.ManifestContainer);
                var submission = await new TrainingSubmissions(manifests, grains).CheckAsync(spec, Environment.CurrentDirectory, cancellationToken);
                if (!submission.IsValid)
                {
                    foreach (var problem in submission.Problems) Console.Error.WriteLine(problem.Message);
                    return 2;
                }
                TrainingRunSummary summary;
                try
                {
                    summary = await scheduler.Submit(submission.Spec);
                }
                catch (ArgumentException e)
                {
                    Console.Error.WriteLine(e.Message);
                    return 2;
                }
                // Said only once the run exists: a refused submission has no run whose id would mean anything.
                if (runId is null) Console.Error.WriteLine($"No --run given: the run's id is {summary.RunId}.");
                Console.WriteLine(summary.RunId);
                Console.Error.WriteLine(Describe(summary));
                Console.Error.WriteLine($"Follow it with `platform train status {summary.RunId}`.");
                return 0;
            }, cancellationToken);
        });
        return command;
    }

    /// <summary>What `--eval` asks for.</summary>
    public const string NoEvaluations = "none";

    /// <summary>
    /// The run's evaluations as `--eval` and its options say: null when `--eval` is not given (the scheduler gives the run
    /// the default evaluations), none for `--eval none`, else each task on the `--eval-data` folder; or what is wrong.
    /// </summary>
    public static (IReadOnlyList<RunEvaluation>? Evaluations, string? Problem) Evaluations(string? tasksOption, string? dataRoot, string split, int? maxImages, string? device)
    {
        var tasks = (tasksOption ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (tasks.Contains(NoEvaluations))
        {
            if (tasks.Length > 1) return (null, $"--eval {NoEvaluations} cannot be combined with tasks ({tasksOption}).");
            return dataRoot is null && device is null ? ([], null) : (null, $"--eval {NoEvaluations} takes no --eval-data or --eval-device: nothing is evaluated.");
        }
        if (tasks.Length > 0 && string.IsNullOrWhiteSpace(dataRoot))
            return (null, "--eval needs --eval-data DIR: the evaluations' data folder, as `platform benchmark-data --out DIR` writes it.");
        if (tasks.Length == 0 && dataRoot is not null) return (null, "--eval-data is used only with --eval TASKS (e.g. --eval coco-captions,vqa).");
        if (tasks.Length == 0 && device is not null) return (null, "--eval-device is used only with --eval TASKS (e.g. --eval coco-captions,vqa).");
        if (device is not (null or RunEvaluation.OnCpu)) return (null, $"--eval-device takes only '{RunEvaluation.OnCpu}' (leave it out to evaluate on a lent device).");
        if (tasks.Length == 0) return (null, null);
        return ([.. tasks.Select(task => new RunEvaluation(task, dataRoot!, split, MaxImages: maxImages, Device: device))], null);
    }

    private static Argument<string> RunArgument() => new("run") { Description = "The run's id, as `train submit` printed it." };

    private static Command CreateStatus()
    {
        var run = RunArgument();
        var command = new Command("status", "Print a training run's progress: phase, step, loss, ETA, devices, checkpoints and evaluations.");
        command.Arguments.Add(run);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
            await IngestClusterCommands.WithClientAsync(async grains =>
            {
                var runId = result.GetValue(run)!;
                if (await Scheduler(grains).Get(runId) is null) return NoSuchRun(runId);
                var status = await grains.GetGrain<ITrainingRunGrain>(runId).GetStatus();
                Console.WriteLine(Describe(status));
                if (status.Spec.Trainers > 1 && await grains.GetGrain<ITrainingRunGrain>(runId).GetDiLoCoStatus() is { } rounds) Console.WriteLine(DescribeRounds(rounds));
                return status.Run.Phase == TrainingRunPhase.Failed ? 1 : 0;
            }, cancellationToken));
        return command;
    }

    /// <summary>A multi-trainer run's rounds: where it is, each replica's progress, and the last round's traffic and barrier wait.</summary>
    public static string DescribeRounds(DiLoCoStatus status)
    {
        var text = new StringBuilder(FormattableString.Invariant($"  rounds: {status.Round} of {status.Rounds}{(status.Finished ? " (finished)" : "")}"));
        foreach (var replica in status.Replicas)
            text.Append(FormattableString.Invariant($"{Environment.NewLine}  replica {replica.Rank}: round {replica.Round}, local step {replica.LocalStep}{(replica.Dropped ? ", dropped" : "")}{(replica.ReportedThisRound ? ", reported" : "")}"));
        if (status.History is [.., var last])
        {
            text.Append(FormattableString.Invariant($"{Environment.NewLine}  last round {last.Round}: replicas {string.Join(",", last.Ranks)}, {last.BytesUp / 1048576.0:F2} MiB up, {last.BarrierWaitSeconds:F2} s at the barrier, mean loss {last.MeanLoss:F4}"));
            foreach (var (rank, timings) in last.Ranks.Zip(last.ReplicaTimings ?? []))
                if (timings is { } t)
                    text.Append(FormattableString.Invariant($"{Environment.NewLine}    replica {rank} outside its steps: waited {t.WaitSeconds:F2} s, fetched weights {t.FetchSeconds:F2} s, pseudo-gradient {t.PseudoGradientSeconds:F2} s, chunks {t.ChunkWriteSeconds:F2} s, state {t.StateSaveSeconds:F2} s"));
            if (last.CoordinatorTimings is { } c)
                text.Append(FormattableString.Invariant($"{Environment.NewLine}    coordinator: read and average {c.ReadAndAverageSeconds:F2} s, record {c.RecordSeconds:F2} s, outer step {c.OuterStepSeconds:F2} s, publish {c.PublishSeconds:F2} s"));
        }
        if (status.Error is { } error) text.Append($"{Environment.NewLine}  error: {error}");
        if (status.Note is { } note) text.Append($"{Environment.NewLine}  {note}");
        return text.ToString();
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List the platform's training runs in queue order (priority, then submission), finished runs last.");
        command.SetAction(async (ParseResult _, CancellationToken cancellationToken) =>
            await IngestClusterCommands.WithClientAsync(async grains =>
            {
                var runs = await Scheduler(grains).List();
                if (runs.Count == 0) Console.Error.WriteLine("No training runs (start one with `platform train submit`).");
                foreach (var summary in runs) Console.WriteLine(Describe(summary));
                return 0;
            }, cancellationToken));
        return command;
    }

    private static Command CreateControl(string name, string description, Func<ITrainingSchedulerGrain, string, Task<TrainingRunSummary>> control)
    {
        var run = RunArgument();
        var command = new Command(name, description);
        command.Arguments.Add(run);
        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
            await IngestClusterCommands.WithClientAsync(async grains =>
            {
                var runId = result.GetValue(run)!;
                var scheduler = Scheduler(grains);
                if (await scheduler.Get(runId) is null) return NoSuchRun(runId);
                try
                {
                    Console.WriteLine(Describe(await control(scheduler, runId)));
                    return 0;
                }
                catch (InvalidOperationException e)
                {
                    // E.g. resuming a run that is not paused.
                    Console.Error.WriteLine(e.Message);
                    return 2;
                }
            }, cancellationToken));
        return command;
    }

    private static ITrainingSchedulerGrain Scheduler(IGrainFactory grains) => grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);

    private static int NoSuchRun(string runId)
    {
        Console.Error.WriteLine($"No training run '{runId}' (see `platform train list`).");
        return 1;
    }

    /// <summary>One line: the run's phase, step, priority and devices, or why it waits, or what went wrong.</summary>
    public static string Describe(TrainingRunSummary run) =>
        $"{run.RunId}: {run.Phase}, step {run.Step}/{run.Steps}, priority {run.Priority}, " +
        (run.Devices.Count > 0 ? $"on {string.Join(", ", run.Devices)}" : $"{run.DevicesRequested} {run.DeviceKind ?? "any"} device{(run.DevicesRequested == 1 ? "" : "s")}") +
        (run.Attempt > 0 ? $", attempt {run.Attempt}" : "") +
        (run.WaitingReason is null ? "" : $"; waiting: {run.WaitingReason}") +
        (run.Error is null ? "" : $"; error: {run.Error}");

    /// <summary>A run's status for a terminal: a progress bar with loss and ETA, then its devices, checkpoints and evaluation curve.</summary>
    public static string Describe(TrainingRunStatus status)
    {
        var run = status.Run;
        var step = Math.Max(run.Step, status.Latest?.Step ?? 0);
        var done = run.Steps > 0 ? Math.Clamp((double)step / run.Steps, 0, 1) : 0;
        const int width = 30;
        var filled = (int)Math.Round(done * width);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{run.RunId}: {run.Phase} [{new string('#', filled)}{new string('.', width - filled)}] {done * 100:F0}% step {step}/{run.Steps}");
        if (status.Latest is { } latest)
            text.Append(CultureInfo.InvariantCulture, $", loss {latest.Loss:F4}, lr {latest.LearningRate:E2}, {latest.TokensPerSecond:F0} tokens/s");
        if (status.Eta is { } eta) text.Append(", ETA ").Append(Duration(eta));
        text.AppendLine();
        text.AppendLine(run.Devices.Count > 0
            ? $"  devices: {string.Join(", ", run.Devices)} (attempt {run.Attempt}{(status.Worker is null ? "" : ", " + status.Worker)})"
            : $"  devices: none held; asks for {run.DevicesRequested} {run.DeviceKind ?? "any"}{(run.WaitingReason is null ? "" : $" (waiting: {run.WaitingReason})")}");
        text.AppendLine($"  dataset: {status.Spec.Dataset}, preset {status.Spec.Preset}, priority {run.Priority}; checkpoints in {status.CheckpointLocation}");
        if (status.Checkpoints.Count > 0)
            text.AppendLine("  checkpoints: " + string.Join(", ", status.Checkpoints.Select(c => $"step {c.Step}{(c.Deleted ? " (deleted)" : "")}")));
        foreach (var evaluation in status.Evaluations.GroupBy(e => e.Task))
            text.AppendLine($"  {evaluation.Key}: " + string.Join(", ", evaluation.OrderBy(e => e.Step).Select(e =>
                e.PrimaryScore is double score
                    ? string.Create(CultureInfo.InvariantCulture, $"step {e.Step} {e.PrimaryMetric} {score:F4}")
                    : $"step {e.Step} {(e.WaitingReason ?? e.Phase.ToString())}{(e.Error is null ? "" : ": " + e.Error)}")));
        if (run.Error is not null) text.AppendLine($"  error: {run.Error}");
        return text.ToString().TrimEnd();
    }

    private static string Duration(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours}h {span.Minutes:D2}m" : span.TotalMinutes >= 1 ? $"{span.Minutes}m {span.Seconds:D2}s" : $"{Math.Max(0, span.Seconds)}s";
}
