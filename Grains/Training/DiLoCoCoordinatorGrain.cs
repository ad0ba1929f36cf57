using System.Diagnostics;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;

namespace Platform.Grains.Training;

/// <summary>
/// See <see cref="IDiLoCoCoordinatorGrain"/>. Its durable state is the outer optimiser's, saved in the run's exchange (a
/// folder, or a prefix of the run's blob container: see <see cref="DiLoCoExchange"/>) after each outer step that ends at a round
/// where the run checkpoints (<see cref="OuterOptimizer.SaveAsync"/>; its replicas saved their states for it before reporting),
/// so a new activation on any silo continues from the last such round; other rounds publish only the next weights; the
/// grain's memory holds only the round in progress. Chunks are read and summed off the grain's scheduler. Files it must
/// hold locally (a replica's state for a global checkpoint) go to a scratch folder of its own silo.
/// </summary>
// Activated first by the run's trainer grain, so it lives on that silo: losing it loses the run's lease anyway. Nothing else
// asks it first: status reads go to the run's record (ITrainingRunGrain.GetDiLoCoStatus), never here.
[Orleans.Placement.PreferLocalPlacement]
public sealed class DiLoCoCoordinatorGrain(BlobServiceClient blobs, ILogger<DiLoCoCoordinatorGrain> logger) : Grain, IDiLoCoCoordinatorGrain
{
    private const int HistoryLimit = 200;

    private DiLoCoSetup? setup;
    private DiLoCoExchange? exchange;
    private readonly string scratchName = $"coordinator-{Guid.NewGuid():N}";
    private OuterOptimizer? outer;
    private PseudoGradientAverager? averager;
    private readonly Dictionary<int, ReplicaState> replicas = [];
    private readonly Dictionary<int, DiLoCoRoundReport> reports = [];
    private readonly List<DiLoCoRoundRecord> history = [];

    private readonly Stopwatch sinceFirstReport = new();
    // The round's reading and summing of chunks so far, over every report.
    private readonly Stopwatch readingAndAveraging = new();
    private IGrainTimer? timer;
    private int round;
    // The newest round whose outer state (and its replicas' states) the exchange holds whole: what a new attempt resumes from.
    private int? savedRound;
    private string? error;

    private sealed class ReplicaState
    {
        public int Round;
        public int LocalStep;
        public DateTimeOffset LastHeard = DateTimeOffset.UtcNow;
        public bool Dropped;
    }

    private static Task SaveHistoryAsync(DiLoCoExchange exchange, IReadOnlyList<DiLoCoRoundRecord> rounds) =>
        exchange.PutAsync(DiLoCoExchange.HistoryFile, System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(rounds)), CancellationToken.None);

    /// <summary>
    /// The rounds' records beside the outer state: the coordinator may be activated anywhere (by a status call from a client,
    /// say) and lose its memory with that silo, and a new activation must still tell every round's replicas and data parts.
    /// </summary>
    private static async Task<IReadOnlyList<DiLoCoRoundRecord>> LoadHistoryAsync(DiLoCoExchange exchange)
    {
        try
        {
            return await exchange.GetAsync(DiLoCoExchange.HistoryFile, CancellationToken.None) is { } saved
                ? System.Text.Json.JsonSerializer.Deserialize<DiLoCoRoundRecord[]>(saved) ?? []
                : [];
        }
        catch (System.Text.Json.JsonException)
        {
            // A damaged record of past rounds costs only the status's history, never the training.
            return [];
        }
    }

    public async Task<DiLoCoStatus> Open(DiLoCoSetup newSetup)
    {
        if (setup is { } current && current.Attempt > newSetup.Attempt) return Status();
        if (setup?.Attempt == newSetup.Attempt) return Status();
        setup = newSetup;
        var opened = exchange = await DiLoCoExchange.OpenAsync(newSetup.Exchange, blobs, CancellationToken.None);
        outer = await Task.Run(() => OuterOptimizer.LoadLatestAsync(opened, DiLoCoExchange.OuterFolder, CancellationToken.None));
        if (history.Count == 0) history.AddRange(await Task.Run(() => LoadHistoryAsync(opened)));
        round = outer?.Round ?? 0;
        savedRound = outer?.Round;
        // The rounds after the last one saved whole are trained again, and recorded again in order.
        history.RemoveAll(r => r.Round >= round);
        replicas.Clear();
        var absent = newSetup.RanksWithoutDevice ?? [];
        for (int rank = 0; rank < newSetup.Replicas; rank++) replicas[rank] = new ReplicaState { Round = round, Dropped = absent.Contains(rank) };
        StartRound();
        error = null;
        timer ??= this.RegisterGrainTimer(_ => DropSilentReplicasAsync(), new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)) { KeepAlive = true });
        logger.LogInformation("DiLoCo coordinator of run {Run} opened for attempt {Attempt} at round {Round} of {Rounds}", this.GetPrimaryKeyString(), newSetup.Attempt, round, newSetup.Rounds);
        return Status();
    }

    private void StartRound()
    {
        reports.Clear();
        averager = null;
        sinceFirstReport.Reset();
        readingAndAveraging.Reset();
    }

    public Task<bool> Heartbeat(int attempt, int rank, int replicaRound, int localStep)
    {
        // A coordinator that lost its memory (its silo died) knows no attempt until the trainer opens it again: not a refusal.
        if (setup is null) return Task.FromResult(true);
        if (setup.Attempt != attempt || !replicas.TryGetValue(rank, out var replica)) return Task.FromResult(false);
        if (replica.Dropped && replicaRound == round) replica.Dropped = false; // back in time for this round: a slow replica, not a lost one
        if (replica.Dropped) return Task.FromResult(true);
        replica.Round = replicaRound;
        replica.LocalStep = localStep;
        replica.LastHeard = DateTimeOffset.UtcNow;
        return Task.FromResult(true);
    }

    public async Task<bool> ReportRound(int attempt, DiLoCoRoundReport report)
    {
        if (setup is not { } s || s.Attempt != attempt || report.Round != round || IsFinished || !replicas.TryGetValue(report.Rank, out var replica)) return false;
        if (reports.ContainsKey(report.Rank)) return true;
        if (exchange is not { } shared) return false;
        readingAndAveraging.Start();
        try
        {
            if (!await FoldReportAsync(s, shared, report)) return false;
        }
        finally
        {
            readingAndAveraging.Stop();
        }
        if (!sinceFirstReport.IsRunning) sinceFirstReport.Start();
        reports[report.Rank] = report;
        replica.Dropped = false;
        replica.LastHeard = DateTimeOffset.UtcNow;
        replica.LocalStep = report.Steps.Count;
        await TryCompleteRoundAsync();
        return true;
    }

    /// <summary>Reads the report's chunks off the grain's scheduler and sums them in (in round 0, the start weights first); false when a report of round 0 lacks them.</summary>
    private async Task<bool> FoldReportAsync(DiLoCoSetup s, DiLoCoExchange shared, DiLoCoRoundReport report)
    {
        if (outer is null)
        {
            if (report.InitialChunks == 0) return false;
            var initial = await Task.Run(async () => WeightChunks.Assemble(
                await shared.GetChunksAsync(DiLoCoExchange.InitialFolder(round, report.Rank), report.InitialChunks, CancellationToken.None).ToListAsync()));
            outer = new OuterOptimizer(initial, s.OuterLearningRate, s.OuterMomentum);
        }
        averager ??= new PseudoGradientAverager(outer.Weights);
        var folding = averager;
        await Task.Run(async () =>
        {
            await foreach (byte[] chunk in shared.GetChunksAsync(DiLoCoExchange.RankFolder(round, report.Rank), report.Chunks, CancellationToken.None))
                folding.Add(report.Rank, chunk);
        });
        return true;
    }

    private bool IsFinished => setup is { } s && round >= s.Rounds;

    /// <summary>
    /// The outer step, once every replica not dropped has reported. The round's steps go to the run's record first (which
    /// writes a multi-trainer run's steps at once), then the round's record, then the outer state: an activation lost
    /// between them redoes the round, whose steps and record the record and the history then take as known. A record that
    /// cannot be reached leaves the round open; the timer tries again.
    /// </summary>
    private async Task TryCompleteRoundAsync()
    {
        if (setup is not { } s || outer is null || averager is null || reports.Count == 0) return;
        if (replicas.Any(r => !r.Value.Dropped && !reports.ContainsKey(r.Key))) return;
        int completed = round;
        var ordered = reports.Values.OrderBy(r => r.Rank).ToArray();
        // The run's record takes the round's steps as its own, numbered on from the previous round's: each one the mean over the replicas.
        var steps = Enumerable.Range(0, ordered.Min(r => r.Steps.Count)).Select(i =>
        {
            var first = ordered[0].Steps[i];
            return first with
            {
                Step = completed * s.SyncEvery + i + 1,
                Loss = ordered.Average(r => r.Steps[i].Loss),
                TokensPerSecond = ordered.Sum(r => r.Steps[i].TokensPerSecond),
                ModelTokens = ordered.Sum(r => r.Steps[i].ModelTokens),
            };
        }).ToArray();
        var phase = Stopwatch.StartNew();
        try
        {
            if (!await GrainFactory.GetGrain<ITrainingRunGrain>(this.GetPrimaryKeyString()).ReportSteps(s.Attempt, steps))
                logger.LogWarning("DiLoCo run {Run}: the record refused the steps of round {Round} (a newer attempt took the run)", this.GetPrimaryKeyString(), completed);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "DiLoCo run {Run}: the steps of round {Round} could not be reported; trying again", this.GetPrimaryKeyString(), completed);
            return;
        }
        // The record call let other calls in: the round may have been completed or reopened meanwhile.
        if (!ReferenceEquals(setup, s) || round != completed || averager is null || reports.Count != ordered.Length) return;
        double recordSeconds = phase.Elapsed.TotalSeconds;
        var optimizer = outer;
        var allReportedAt = DateTimeOffset.UtcNow;
        double barrierWait = sinceFirstReport.Elapsed.TotalSeconds;
        history.RemoveAll(r => r.Round == completed);
        history.Add(new DiLoCoRoundRecord(completed, ordered.Select(r => r.Rank).ToArray(), ordered.Select(r => r.Epoch).ToArray(), ordered.Select(r => r.Part).ToArray(),
            averager.BytesReceived, barrierWait, ordered.SelectMany(r => r.Steps).Select(step => step.Loss).DefaultIfEmpty(double.NaN).Average(),
            ordered.Select(r => r.Silo).ToArray(), allReportedAt, ordered.Select(r => r.Timings).ToArray()));
        if (history.Count > HistoryLimit) history.RemoveAt(0);
        var rounds = history.ToArray();
        var shared = exchange!;
        var folded = averager;
        var (stepSeconds, publishSeconds, whole) = await Task.Run(async () =>
        {
            // The history before the step: a save that fails leaves the optimiser as it was, for the timer to try the round again.
            var watch = Stopwatch.StartNew();
            await SaveHistoryAsync(shared, rounds);
            double saving = watch.Elapsed.TotalSeconds;
            watch.Restart();
            optimizer.Step(folded.Average());
            double stepped = watch.Elapsed.TotalSeconds;
            watch.Restart();
            // Where the run checkpoints, the replicas saved their states before reporting: the outer state saved whole beside
            // them is where a new attempt resumes. Elsewhere the replicas need only the weights.
            int next = optimizer.Round;
            bool whole = next >= s.Rounds || GlobalCheckpoint.IsDueAtRound(next, s.SyncEvery, s.Checkpoints?.Every ?? s.SyncEvery, s.Rounds);
            if (whole) await optimizer.SaveAsync(shared, DiLoCoExchange.OuterFolder, CancellationToken.None);
            else await optimizer.PublishWeightsAsync(shared, DiLoCoExchange.OuterFolder, CancellationToken.None);
            double published = saving + watch.Elapsed.TotalSeconds;
            int? kept = whole ? next : savedRound;
            async Task CleanUpAsync()
            {
                await TryCleanUpAsync(() => OuterOptimizer.DeleteBeforeAsync(shared, DiLoCoExchange.OuterFolder, next, CancellationToken.None, kept));
                await TryCleanUpAsync(() => shared.DeleteAsync(DiLoCoExchange.RoundFolder(completed), CancellationToken.None));
            }
            // Off the round's path while rounds follow (the replicas wait for this call to end before they see the next round);
            // the last round's waits, so that a finished run leaves nothing behind.
            if (next >= s.Rounds) await CleanUpAsync();
            else _ = CleanUpAsync();
            return (stepped, published, whole);
        });
        if (whole) savedRound = optimizer.Round;
        // The coordinator's own timings are known only now: the saved history gets them with the next round's.
        int recorded = history.FindIndex(r => r.Round == completed);
        if (recorded >= 0)
            history[recorded] = history[recorded] with
            {
                CoordinatorTimings = new DiLoCoCoordinatorTimings(readingAndAveraging.Elapsed.TotalSeconds, recordSeconds, stepSeconds, publishSeconds),
            };
        round = optimizer.Round;
        foreach (var replica in replicas.Values) replica.Round = Math.Max(replica.Round, round);
        StartRound();
        await SaveCheckpointIfDueAsync(s, round, ordered[0].Rank, optimizer.Weights);
        logger.LogInformation("DiLoCo run {Run}: round {Round} done with replicas {Ranks}, {Bytes} bytes up, {Wait:F2} s at the barrier",
            this.GetPrimaryKeyString(), completed, string.Join(",", ordered.Select(r => r.Rank)), history[^1].BytesUp, barrierWait);
    }

    /// <summary>
    /// The run's checkpoint of the global weights that start <paramref name="next"/>, listed in the run's record like a single
    /// trainer's so that evaluations and the leaderboard take it. A checkpoint that fails costs only itself: the run resumes
    /// from its outer state either way. A blob location gets the checkpoint saved beside the exchange, uploaded, and
    /// listed by its URL, as a single trainer's blob checkpoints are. The replica state that supplies the checkpoint's
    /// configuration and vocabulary is fetched from the exchange into this silo's scratch folder first.
    /// </summary>
    private async Task SaveCheckpointIfDueAsync(DiLoCoSetup s, int next, int rank, IReadOnlyList<NamedArray> weights)
    {
        int step = next * s.SyncEvery;
        if (s.Checkpoints is not { } checkpoints || !GlobalCheckpoint.IsDue(step, s.SyncEvery, checkpoints.Every, s.Rounds * s.SyncEvery)) return;
        try
        {
            bool toBlobs = BlobCheckpointStore.IsBlobLocation(checkpoints.RunFolder);
            string scratch = LocalScratch.Folder("platform-diloco", this.GetPrimaryKeyString(), $"{scratchName}-step-{step}");
            string folder;
            try
            {
                string source = await ReplicaCheckpoints.DownloadAsync(exchange!, rank, next, Path.Combine(scratch, "replica"), CancellationToken.None,
                    [Checkpoint.StateFile, Checkpoint.VocabularyFile]) ?? throw new FileNotFoundException($"Replica {rank} saved no state of round {next} in {exchange!.Location}.");
                string saveIn = toBlobs ? Path.Combine(scratch, "upload") : checkpoints.RunFolder;
                folder = await Task.Run(() => GlobalCheckpoint.Save(saveIn, step, source, weights));
                if (toBlobs) folder = await BlobCheckpointStore.Open(checkpoints.RunFolder, blobs).UploadAsync(folder, step, CancellationToken.None);
            }
            finally
            {
                LocalScratch.TryDelete(scratch);
            }
            if (!await GrainFactory.GetGrain<ITrainingRunGrain>(this.GetPrimaryKeyString()).ReportCheckpoint(s.Attempt, step, folder))
                logger.LogWarning("DiLoCo run {Run}: the record refused the checkpoint of step {Step} (a newer attempt took the run)", this.GetPrimaryKeyString(), step);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "DiLoCo run {Run}: the checkpoint of step {Step} could not be saved or reported", this.GetPrimaryKeyString(), step);
        }
    }

    private async Task DropSilentReplicasAsync()
    {
        if (setup is not { } s || IsFinished) return;
        var now = DateTimeOffset.UtcNow;
        foreach (var (rank, replica) in replicas)
            if (!replica.Dropped && !reports.ContainsKey(rank) && now - replica.LastHeard > s.ReplicaTimeout)
            {
                replica.Dropped = true;
                logger.LogWarning("DiLoCo run {Run}: replica {Rank} silent for {Timeout}, dropped from round {Round}", this.GetPrimaryKeyString(), rank, s.ReplicaTimeout, round);
            }
        if (replicas.Values.All(r => r.Dropped)) error = "Every replica was lost.";
        // Also a round whose steps the record could not take before.
        await TryCompleteRoundAsync();
    }

    public Task<DiLoCoStatus> GetStatus() => Task.FromResult(Status());

    private DiLoCoStatus Status() => new(
        setup?.Attempt ?? 0, round, setup?.Rounds ?? 0, IsFinished,
        replicas.OrderBy(r => r.Key).Select(r => new DiLoCoReplicaProgress(r.Key, r.Value.Round, r.Value.LocalStep, r.Value.LastHeard, r.Value.Dropped, reports.ContainsKey(r.Key))).ToArray(),
        history.ToArray(), error);

    /// <summary>Deletions of what a run no longer needs: one that fails leaves garbage, never a broken run.</summary>
    private async Task TryCleanUpAsync(Func<Task> delete)
    {
        try { await delete(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Azure.RequestFailedException or OperationCanceledException)
        {
            logger.LogDebug(e, "DiLoCo run {Run}: a finished round's files could not be deleted", this.GetPrimaryKeyString());
        }
    }
}
