using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Grains.Datasets;
using Platform.Grains.Evaluation;
using Platform.Grains.Ingestion;
using Platform.Grains.Training;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Stages;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Datasets;
using Platform.Silo.Hosting;

namespace Platform.Silo.Demo;

/// <summary>The demo's settings: the size of the web dump and of the training run, and where its files go.</summary>
public sealed record DemoOptions
{
    /// <summary>Seed of the web site and of the run; the held-out benchmark takes another seed from it.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Captioned pictures on the demo's web site, noise not counted.</summary>
    public int Images { get; init; } = 480;

    public int Steps { get; init; } = 1000;

    public int CheckpointEvery { get; init; } = 250;

    /// <summary>Benchmark test images each checkpoint is scored on, per task.</summary>
    public int EvalMaxImages { get; init; } = 30;

    public int SamplesPerStep { get; init; } = 16;

    public double PeakLearningRate { get; init; } = 1e-3;

    public int WarmupSteps { get; init; } = 30;

    /// <summary>libtorch CPU threads of the trainer; 0 leaves libtorch's default.</summary>
    public int Threads { get; init; }

    /// <summary>The demo's files: the site's dump, the ingest output and dataset, the benchmark.</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>The dataset (and ingest job) name: one per site, so a second demo on the same site reuses it.</summary>
    public string Dataset => string.Create(CultureInfo.InvariantCulture, $"demo-s{Seed}-n{Images}");

    /// <summary>The held-out benchmark's seed: another than the site's, so its test pictures were never in the dump.</summary>
    public int BenchmarkSeed => Seed + 1000;

    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Images < 20) problems.Add($"--images must be at least 20 (the site places each kind of noise among them), not {Images}.");
        if (Steps < 1) problems.Add($"--steps must be positive, not {Steps}.");
        if (CheckpointEvery < 1 || CheckpointEvery > Steps) problems.Add($"--checkpoint-every must be between 1 and --steps ({Steps}), not {CheckpointEvery}.");
        if (EvalMaxImages < 1) problems.Add($"--eval-max-images must be positive, not {EvalMaxImages}.");
        if (SamplesPerStep < 1) problems.Add($"--batch must be positive, not {SamplesPerStep}.");
        if (PeakLearningRate <= 0) problems.Add($"--lr must be positive, not {PeakLearningRate}.");
        if (WarmupSteps < 0) problems.Add($"--warmup must not be negative, not {WarmupSteps}.");
        if (Threads < 0) problems.Add($"--threads must not be negative, not {Threads}.");
        return problems;
    }
}

/// <summary>
/// The platform's main job on a running platform, through the APIs a user would call: a web dump captured from a loopback site,
/// ingested as a dataset (`POST /api/ingest/jobs`), a tiny SimVLM pretrained on it (`POST /api/train/runs`) with every checkpoint
/// scored zero-shot on a held-out benchmark, then a summary. The grains are read directly only for what no API serves yet (the
/// dataset's totals, the leaderboard).
/// </summary>
public sealed class DemoMission(Uri platform, IGrainFactory grains, DemoOptions options, TextWriter output)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
    private static readonly string[] Tasks = ["coco-captions", "vqa"];
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    private readonly HttpClient http = new() { BaseAddress = platform, Timeout = TimeSpan.FromSeconds(60) };

    /// <returns>0 when every stage finished, 1 when one failed.</returns>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var _ = http;
        var started = DateTimeOffset.UtcNow;
        var work = Path.GetFullPath(options.WorkDirectory);
        Say($"Demo: the platform serves {platform.AbsoluteUri.TrimEnd('/')} (its pages, /orleans, /hangfire) while the demo runs on it; work folder {work}, dataset {options.Dataset}.");

        var dataset = await EnsureDatasetAsync(work, cancellationToken);
        if (dataset is null) return 1;
        var benchmark = EnsureBenchmark(work);
        var run = await TrainAsync(dataset, benchmark, cancellationToken);
        if (run is null) return 1;
        await PrintSummaryAsync(dataset, run, benchmark, DateTimeOffset.UtcNow - started, cancellationToken);
        return run.Run.Phase == TrainingRunPhase.Completed ? 0 : 1;
    }

    private sealed record DatasetOutcome(string Dataset, string Job, string DatasetFolder, bool Reused, DemoCaptureSummary? Capture);

    /// <summary>The dataset of this site: reused when its ingest job completed before, else the site is captured and ingested.</summary>
    private async Task<DatasetOutcome?> EnsureDatasetAsync(string work, CancellationToken cancellationToken)
    {
        var job = options.Dataset;
        var ingestOutput = Path.Combine(work, "ingest", job);
        var datasetFolder = Path.Combine(ingestOutput, "dataset");
        var existing = await IngestStatusAsync(job, cancellationToken);
        if (existing?.Phase == IngestJobPhase.Completed)
        {
            Say($"Dataset {options.Dataset} exists (ingest job {job} completed, {existing.Shards?.SamplesStored ?? 0} samples stored): reusing it, not ingesting again.");
            return new DatasetOutcome(options.Dataset, job, datasetFolder, Reused: true, Capture: null);
        }

        var dumpFolder = Path.Combine(work, "dumps", job);
        // Rendering the pictures takes half a minute at the default size on two cores: said first, so the wait is not silent.
        Say($"Web site: rendering {options.Images} captioned pictures and the noise among them (seed {options.Seed}).");
        var site = DemoWebSite.Generate(new DemoSiteOptions { Seed = options.Seed, Pictures = options.Images });
        DemoCaptureSummary capture;
        await using (var server = await DemoSiteServer.StartAsync(site, cancellationToken))
        {
            // --images counts the clean pictures; the noise is planted on top of them, so the two are told apart.
            var noise = site.NoiseCounts;
            Say($"Web site: {site.Pictures.Count(p => p.Noise is null)} captioned pictures and {noise.Values.Sum()} more planted as noise on "
                + $"{site.Resources.Count(r => r.Value.ContentType.StartsWith("text/html", StringComparison.Ordinal))} pages at {server.BaseAddress} "
                + $"(noise: {string.Join(", ", noise.OrderBy(n => n.Key, StringComparer.Ordinal).Select(n => $"{n.Key} {n.Value}"))}; plus navigation icons and a logo on every page).");
            if (Directory.Exists(dumpFolder)) Directory.Delete(dumpFolder, recursive: true);
            capture = await DemoCapture.RunAsync(server.BaseAddress, dumpFolder, job, cancellationToken);
        }
        Say($"Capture: {capture.Pages} pages and {capture.Images} images into {string.Join(", ", capture.WarcFiles.Select(Path.GetFileName))} "
            + $"({capture.Bytes / 1024.0 / 1024.0:F1} MB); robots.txt kept the crawler from {capture.RobotsDisallowedPages} page(s).");

        using var posted = await http.PostAsJsonAsync(IngestEndpoints.JobsPath, new
        {
            inputs = capture.WarcFiles,
            output = ingestOutput,
            dataset = options.Dataset,
            job,
            // Shards of a few dozen samples, so the commits show as progress. The scenes come from a small world where two
            // different pictures often share a layout (a circle in the centre, whatever its colour), which the default
            // perceptual-hash distance (8) takes for near-duplicates; 2 still catches a re-encoded copy.
            settings = new IngestJobSettings { SamplesPerShard = 64, MaxImageHammingDistance = 2 },
        }, Json, cancellationToken);
        if (!posted.IsSuccessStatusCode)
        {
            Say($"Ingest: POST {IngestEndpoints.JobsPath} answered {(int)posted.StatusCode}: {await posted.Content.ReadAsStringAsync(cancellationToken)}");
            return null;
        }
        var accepted = await posted.Content.ReadFromJsonAsync<JsonElement>(Json, cancellationToken);
        Say($"Ingest: job {job} submitted as Hangfire job {accepted.GetProperty("hangfireJob").GetString()} (see /hangfire).");

        string? last = null;
        while (true)
        {
            await Task.Delay(PollInterval, cancellationToken);
            var status = await IngestStatusAsync(job, cancellationToken);
            if (status is null) continue;
            var line = status.Shards is { } shards
                ? $"Ingest: {status.Phase}, {status.Pages} pages, {status.PairsPassed} pairs passed the text filters, shards {shards.ShardsCommitted}/{shards.ShardCount} committed, {shards.SamplesStored} samples stored"
                : $"Ingest: {status.Phase}, {status.Units.Count(u => u.State == WorkUnitState.Done)}/{status.Units.Count} units, {status.Pages} pages, {status.PairsPassed} pairs passed the text filters";
            if (line != last) Say(line);
            last = line;
            if (status.Phase == IngestJobPhase.Completed) break;
            if (status.Phase == IngestJobPhase.Failed)
            {
                Say($"Ingest: job {job} failed: {status.Error}");
                return null;
            }
        }
        return new DatasetOutcome(options.Dataset, job, datasetFolder, Reused: false, capture);
    }

    private async Task<IngestJobStatus?> IngestStatusAsync(string job, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"{IngestEndpoints.JobsPath}/{Uri.EscapeDataString(job)}", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<IngestJobStatus>(Json, cancellationToken);
    }

    /// <summary>The held-out benchmark: scenes of the site's kind from another seed, written once.</summary>
    private string EnsureBenchmark(string work)
    {
        var root = Path.Combine(work, string.Create(CultureInfo.InvariantCulture, $"benchmark-s{options.BenchmarkSeed}"));
        if (File.Exists(EvaluationDataLayout.KarpathySplitsFile(root)))
        {
            Say($"Benchmark: reusing {root}.");
            return root;
        }
        // Enough test images for --eval-max-images, rendered at the tiny preset's input size.
        var images = Math.Max(20, options.EvalMaxImages * 2);
        var summary = BenchmarkGenerator.Generate(root, DemoScenes.Options(options.BenchmarkSeed) with { Images = images, ImageSize = 64, TestFraction = 0.5, ValFraction = 0.1 });
        Say($"Benchmark: {summary.ImagesPerSplit["test"]} held-out test images with {summary.Captions} captions and {summary.Questions} questions in all splits, seed {options.BenchmarkSeed}, in {root}.");
        return root;
    }

    private async Task<TrainingRunStatus?> TrainAsync(DatasetOutcome dataset, string benchmark, CancellationToken cancellationToken)
    {
        var runId = string.Create(CultureInfo.InvariantCulture, $"demo-s{options.Seed}-{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}");
        // The pages' prose the text stage kept, mixed in as SimVLM mixes its text-only corpus (one text sample to eight pairs).
        var textFile = Path.Combine(dataset.DatasetFolder, FunnelStage.TextFileName(dataset.Job));
        var documents = File.Exists(textFile) ? File.ReadLines(textFile).Count(line => !string.IsNullOrWhiteSpace(line)) : 0;
        string[] textDocuments = documents > 0 ? [textFile] : [];
        Say(documents > 0
            ? $"Text: {documents} page text(s) kept by the text filters, in {textFile}; the run mixes them in as text-only samples."
            : "Text: the text filters kept no page text, so the run trains on image-text pairs only.");
        using var posted = await http.PostAsJsonAsync(TrainingEndpoints.RunsPath, new
        {
            dataset = options.Dataset,
            textDocuments,
            runId,
            preset = "tiny",
            steps = options.Steps,
            samplesPerStep = options.SamplesPerStep,
            peakLearningRate = options.PeakLearningRate,
            warmupSteps = options.WarmupSteps,
            checkpointEvery = options.CheckpointEvery,
            seed = options.Seed,
            threads = options.Threads,
            // On the CPU beside the trainer, so scores land while it trains: the embedded platform has one device, which a
            // lent evaluation would have to wait for until the run ends.
            evaluations = Tasks.Select(task => new { task, dataRoot = benchmark, split = "test", prompt = "A picture of", maxImages = options.EvalMaxImages, device = "cpu" }),
        }, Json, cancellationToken);
        if (!posted.IsSuccessStatusCode)
        {
            Say($"Train: POST {TrainingEndpoints.RunsPath} answered {(int)posted.StatusCode}: {await posted.Content.ReadAsStringAsync(cancellationToken)}");
            return null;
        }
        Say($"Train: run {runId} queued ({options.Steps} steps of {options.SamplesPerStep} samples, tiny preset, a checkpoint every {options.CheckpointEvery} steps, "
            + $"each scored on {string.Join(" and ", Tasks)}).");

        var printEvery = Math.Max(1, options.Steps / 20);
        var lastPrintedStep = 0;
        var lastPrintedAt = DateTimeOffset.UtcNow;
        var reported = new HashSet<(int, string)>();
        TrainingRunPhase? lastPhase = null;
        var startedAt = DateTimeOffset.UtcNow;
        while (true)
        {
            await Task.Delay(PollInterval, cancellationToken);
            using var response = await http.GetAsync($"{TrainingEndpoints.RunsPath}/{Uri.EscapeDataString(runId)}", cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound) continue;
            response.EnsureSuccessStatusCode();
            var status = (await response.Content.ReadFromJsonAsync<TrainingRunStatus>(Json, cancellationToken))!;
            var finished = status.Run.Phase is TrainingRunPhase.Completed or TrainingRunPhase.Failed or TrainingRunPhase.Cancelled;
            var phaseLine = status.Run.Phase == lastPhase
                ? null
                : $"Train: {status.Run.Phase}{(status.Run.WaitingReason is { } why ? $" ({why})" : "")}{(status.Run.Devices.Count > 0 ? $" on {string.Join(", ", status.Run.Devices)}" : "")}.";
            lastPhase = status.Run.Phase;
            if (phaseLine is not null && !finished) Say(phaseLine);
            // The last step is told whether or not it falls on the print interval, and before the run's end, which it came before.
            if (status.Latest is { } latest && TellsStep(latest.Step, lastPrintedStep, printEvery, finished, DateTimeOffset.UtcNow - lastPrintedAt))
            {
                var minutes = (DateTimeOffset.UtcNow - startedAt).TotalMinutes;
                Say($"Train: step {latest.Step}/{options.Steps} loss {latest.Loss:F3} lr {latest.LearningRate:E1} ({latest.StepSeconds:F2} s/step, {minutes:F1} min in)");
                lastPrintedStep = latest.Step;
                lastPrintedAt = DateTimeOffset.UtcNow;
            }
            if (phaseLine is not null && finished) Say(phaseLine);
            foreach (var evaluation in status.Evaluations.Where(e => e.Phase is EvaluationPhase.Completed or EvaluationPhase.Failed))
            {
                if (!reported.Add((evaluation.Step, evaluation.Task))) continue;
                Say(evaluation.Phase == EvaluationPhase.Completed
                    ? $"Eval: step {evaluation.Step} {evaluation.Task} {evaluation.PrimaryMetric} {evaluation.PrimaryScore:F3}"
                    : $"Eval: step {evaluation.Step} {evaluation.Task} failed: {evaluation.Error}");
            }
            if (status.Run.Phase is TrainingRunPhase.Failed or TrainingRunPhase.Cancelled)
            {
                Say($"Train: run {runId} {status.Run.Phase}: {status.Run.Error}");
                return status;
            }
            // Done once every checkpoint has its scores: evaluations start after their checkpoint, some after the last step.
            if (status.Run.Phase == TrainingRunPhase.Completed && reported.Count >= status.Checkpoints.Count * Tasks.Length) return status;
        }
    }

    /// <summary>The longest the demo stays silent while its run advances: on loaded cores a step can take seconds, and 50 of them minutes.</summary>
    public static readonly TimeSpan StepLineInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether a step is told: every <paramref name="printEvery"/>th, the last one, and any that advanced once <see cref="StepLineInterval"/> has
    /// passed since the last step line.
    /// </summary>
    public static bool TellsStep(int step, int lastPrintedStep, int printEvery, bool finished, TimeSpan sinceLastLine) =>
        step >= lastPrintedStep + printEvery || (step > lastPrintedStep && (finished || sinceLastLine >= StepLineInterval));

    private async Task PrintSummaryAsync(DatasetOutcome dataset, TrainingRunStatus run, string benchmark, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        Say("");
        Say("== Demo summary ==");
        if (dataset.Capture is { } capture)
            Say($"Web dump: {capture.Pages} pages and {capture.Images} images captured into {capture.WarcFiles.Count} WARC file(s); robots.txt kept the crawler from {capture.RobotsDisallowedPages} page(s).");
        var totals = await grains.GetGrain<IDatasetGrain>(dataset.Dataset).GetTotals();
        Say($"Dataset {dataset.Dataset}{(dataset.Reused ? " (reused, not ingested again)" : "")}: {totals.SampleCount} samples in {totals.ShardCount} shards, {dataset.DatasetFolder}");
        var funnelFile = Path.Combine(dataset.DatasetFolder, FunnelStage.FunnelFileName(dataset.Job));
        if (File.Exists(funnelFile))
        {
            var funnel = new FunnelStats();
            FunnelStage.AddStats(funnel, await File.ReadAllTextAsync(funnelFile, cancellationToken));
            Say("Funnel (kept and rejected by reason, per stage):");
            foreach (var stage in funnel.StageNames)
            {
                var counts = funnel.Stage(stage);
                var rejected = counts.Rejected.Count == 0 ? "" : "; rejected " + string.Join(", ", counts.Rejected.OrderByDescending(r => r.Value).Select(r => $"{r.Key} {r.Value}"));
                Say($"  {stage,-12} {counts.In,6} in, {counts.Passed,6} kept{rejected}");
            }
        }

        var history = run.History;
        if (history.Count > 0)
            Say($"Training run {run.Run.RunId}: {run.Run.Phase}, {run.Run.Step} steps, loss {history[0].Loss:F3} (step {history[0].Step}) -> {history[^1].Loss:F3} (step {history[^1].Step}).");
        Say("Scores, first -> last checkpoint:");
        foreach (var task in Tasks)
        {
            var curve = run.Evaluations.Where(e => e.Task == task && e.Phase == EvaluationPhase.Completed).OrderBy(e => e.Step).ToArray();
            if (curve.Length == 0)
            {
                Say($"  {task}: no scores");
                continue;
            }
            Say($"  {task} {curve[0].PrimaryMetric}: {curve[0].PrimaryScore:F3} (step {curve[0].Step}) -> {curve[^1].PrimaryScore:F3} (step {curve[^1].Step})");
        }
        Say("Leaderboard entries of this run (read from the leaderboard grains):");
        foreach (var task in Tasks)
        {
            var entries = (await grains.GetGrain<ILeaderboardGrain>(task).Ranking(10_000)).Where(e => e.RunId == run.Run.RunId).OrderBy(e => e.Step).ToArray();
            Say($"  {task}: {entries.Length} checkpoint(s): {string.Join(", ", entries.Select(e => $"step {e.Step} {e.PrimaryMetric} {e.PrimaryScore:F3}"))}");
        }
        Say($"Finished in {elapsed.TotalMinutes:F1} minutes.");
        var site = platform.AbsoluteUri.TrimEnd('/');
        Say("Where to look:");
        Say($"  {site}/                       the platform's pages; {site}/datasets/{dataset.Dataset}, {site}/runs/{run.Run.RunId}, {site}/leaderboard");
        Say($"  {site}/orleans                grains, silos and calls");
        Say($"  {site}/hangfire               the ingest and training jobs");
        Say($"  {site}{IngestEndpoints.JobsPath}/{dataset.Job}   {site}{TrainingEndpoints.RunsPath}/{run.Run.RunId}   {site}/api/devices");
        // The commands a user takes next, spelled with this build's executable: `dotnet run` again would rebuild first, and without
        // `-c Release` build a second configuration.
        var platformCommand = PlatformExecutable();
        Say("What next, against the running platform (this demo without --exit, or `platform up`; README, \"Commands\"):");
        Say($"  {platformCommand} train status {run.Run.RunId}");
        Say($"  {platformCommand} train submit --dataset {dataset.Dataset} --steps 200 --checkpoint-every 100");
        Say($"  {platformCommand} eval --checkpoint {run.CheckpointLocation} --task coco-captions --data {benchmark} --out {Path.Combine(Path.GetFullPath(options.WorkDirectory), "eval")}");
    }

    /// <summary>
    /// How to start this build of `platform`: its native launcher beside the assembly, by its full path, since `dotnet run` runs the
    /// program in the project's folder, not in the user's.
    /// </summary>
    private static string PlatformExecutable()
    {
        var launcher = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "platform.exe" : "platform");
        return File.Exists(launcher) ? launcher : $"dotnet {Path.Combine(AppContext.BaseDirectory, "platform.dll")}";
    }

    private void Say(string line)
    {
        output.WriteLine(line);
        output.Flush();
    }
}
