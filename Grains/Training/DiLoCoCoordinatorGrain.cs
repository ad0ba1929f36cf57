using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Platform.Model.Training.DiLoCo;

namespace Platform.Grains.Training;

/// <summary>
/// See <see cref="IDiLoCoCoordinatorGrain"/>. Its durable state is the outer optimiser's, saved in the run's exchange folder
/// after every outer step (<see cref="OuterOptimizer.Save"/>), so a new activation continues from the last completed round;
/// the grain's memory holds only the round in progress. Chunk files are read and summed off the grain's scheduler.
/// Layout of the exchange folder: <c>outer/step-R</c> the outer state that starts round R, <c>round-R/rank-K</c> replica K's
/// pseudo-gradient chunks of round R (and <c>initial</c> in round 0: its start weights, which every replica draws alike).
/// </summary>
// Activated first by the run's trainer grain, so it lives on that silo: losing it loses the run's lease anyway.
[Orleans.Placement.PreferLocalPlacement]
public sealed class DiLoCoCoordinatorGrain(ILogger<DiLoCoCoordinatorGrain> logger) : Grain, IDiLoCoCoordinatorGrain
{
    private const int HistoryLimit = 200;

    private DiLoCoSetup? setup;
    private OuterOptimizer? outer;
    private PseudoGradientAverager? averager;
    private readonly Dictionary<int, ReplicaState> replicas = [];
    private readonly Dictionary<int, DiLoCoRoundReport> reports = [];
    private readonly List<DiLoCoRoundRecord> history = [];

    /// <summary>The steps reported to the run's record, the newest <see cref="SentStepsLimit"/>: sent again when the record lost some.</summary>
    private readonly List<TrainingStepRecord> sentSteps = [];
    private const int SentStepsLimit = 20_000;
    private readonly Stopwatch sinceFirstReport = new();
    private IGrainTimer? timer;
    private int round;
    private string? error;

    private sealed class ReplicaState
    {
        public int Round;
        public int LocalStep;
        public DateTimeOffset LastHeard = DateTimeOffset.UtcNow;
        public bool Dropped;
    }

    public static string OuterFolder(string exchange) => Path.Combine(exchange, "outer");

    /// <summary>
    /// The rounds' records beside the outer state: the coordinator may be activated anywhere (by a status call from a client,
    /// say) and lose its memory with that silo, and a new activation must still tell every round's replicas and data parts.
    /// </summary>
    private static string HistoryFile(string exchange) => Path.Combine(exchange, "rounds.json");

    private static void SaveHistory(string exchange, IReadOnlyList<DiLoCoRoundRecord> rounds)
    {
        Directory.CreateDirectory(exchange);
        var staging = HistoryFile(exchange) + ".partial";
        File.WriteAllText(staging, System.Text.Json.JsonSerializer.Serialize(rounds));
        File.Move(staging, HistoryFile(exchange), overwrite: true);
    }

    private static IReadOnlyList<DiLoCoRoundRecord> LoadHistory(string exchange)
    {
        try
        {
            return File.Exists(HistoryFile(exchange))
                ? System.Text.Json.JsonSerializer.Deserialize<DiLoCoRoundRecord[]>(File.ReadAllText(HistoryFile(exchange))) ?? []
                : [];
        }
        catch (System.Text.Json.JsonException)
        {
            // A damaged record of past rounds costs only the status's history, never the training.
            return [];
        }
    }

    public static string RankFolder(string exchange, int round, int rank) => Path.Combine(exchange, $"round-{round:D6}", $"rank-{rank}");

    public static string InitialFolder(string exchange, int round, int rank) => Path.Combine(RankFolder(exchange, round, rank), "initial");

    public async Task<DiLoCoStatus> Open(DiLoCoSetup newSetup)
    {
        if (setup is { } current && current.Attempt > newSetup.Attempt) return Status();
        if (setup?.Attempt == newSetup.Attempt) return Status();
        setup = newSetup;
        outer = await Task.Run(() => OuterOptimizer.LoadLatest(OuterFolder(newSetup.ExchangeFolder)));
        if (history.Count == 0) history.AddRange(await Task.Run(() => LoadHistory(newSetup.ExchangeFolder)));
        round = outer?.Round ?? 0;
        replicas.Clear();
        for (int rank = 0; rank < newSetup.Replicas; rank++) replicas[rank] = new ReplicaState { Round = round };
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
        string exchange = s.ExchangeFolder;
        if (outer is null)
        {
            if (report.InitialChunks == 0) return false;
            var initial = await Task.Run(() => WeightChunks.Assemble(WeightChunks.ReadFiles(InitialFolder(exchange, round, report.Rank), report.InitialChunks)));
            outer = new OuterOptimizer(initial, s.OuterLearningRate, s.OuterMomentum);
        }
        averager ??= new PseudoGradientAverager(outer.Weights);
        var folding = averager;
        await Task.Run(() =>
        {
            foreach (byte[] chunk in WeightChunks.ReadFiles(RankFolder(exchange, round, report.Rank), report.Chunks)) folding.Add(report.Rank, chunk);
        });
        if (!sinceFirstReport.IsRunning) sinceFirstReport.Start();
        reports[report.Rank] = report;
        replica.Dropped = false;
        replica.LastHeard = DateTimeOffset.UtcNow;
        replica.LocalStep = report.Steps.Count;
        await TryCompleteRoundAsync();
        return true;
    }

    private bool IsFinished => setup is { } s && round >= s.Rounds;

    /// <summary>The outer step, once every replica not dropped has reported.</summary>
    private async Task TryCompleteRoundAsync()
    {
        if (setup is not { } s || outer is null || averager is null || reports.Count == 0) return;
        if (replicas.Any(r => !r.Value.Dropped && !reports.ContainsKey(r.Key))) return;
        var optimizer = outer;
        var mean = averager.Average();
        double barrierWait = sinceFirstReport.Elapsed.TotalSeconds;
        int completed = round;
        await Task.Run(() =>
        {
            optimizer.Step(mean);
            optimizer.Save(OuterFolder(s.ExchangeFolder));
            OuterOptimizer.DeleteBefore(OuterFolder(s.ExchangeFolder), optimizer.Round);
            TryDelete(Path.Combine(s.ExchangeFolder, $"round-{completed:D6}"));
        });
        var ordered = reports.Values.OrderBy(r => r.Rank).ToArray();
        history.Add(new DiLoCoRoundRecord(completed, ordered.Select(r => r.Rank).ToArray(), ordered.Select(r => r.Epoch).ToArray(), ordered.Select(r => r.Part).ToArray(),
            averager.BytesReceived, barrierWait, ordered.SelectMany(r => r.Steps).Select(step => step.Loss).DefaultIfEmpty(double.NaN).Average()));
        if (history.Count > HistoryLimit) history.RemoveAt(0);
        var rounds = history.ToArray();
        await Task.Run(() => SaveHistory(s.ExchangeFolder, rounds));
        round = optimizer.Round;
        foreach (var replica in replicas.Values) replica.Round = Math.Max(replica.Round, round);
        // The run's record takes the round's steps as its own, numbered on from the previous round's: each one the mean over the replicas.
        var steps = Enumerable.Range(0, ordered.Min(r => r.Steps.Count)).Select(i =>
        {
            var first = ordered[0].Steps[i];
            return first with
            {
                Step = completed * s.SyncEvery + i + 1,
                Loss = ordered.Average(r => r.Steps[i].Loss),
                TokensPerSecond = ordered.Sum(r => r.Steps[i].TokensPerSecond),
            };
        }).ToArray();
        StartRound();
        sentSteps.AddRange(steps);
        if (sentSteps.Count > SentStepsLimit) sentSteps.RemoveRange(0, sentSteps.Count - SentStepsLimit);
        try
        {
            var record = GrainFactory.GetGrain<ITrainingRunGrain>(this.GetPrimaryKeyString());
            if (!await record.ReportSteps(s.Attempt, steps))
            {
                // The record refuses steps that would leave a gap: its activation died (a silo lost) before it wrote the
                // previous rounds' steps. A single trainer redoes them from its checkpoint; here the rounds are done, so the
                // record gets them again from what it still has.
                var status = await record.GetStatus();
                if (status.Run.Attempt == s.Attempt)
                {
                    int have = status.Latest?.Step ?? 0;
                    var missing = sentSteps.Where(step => step.Step > have).ToArray();
                    if (missing.Length > 0 && !await record.ReportSteps(s.Attempt, missing))
                        logger.LogWarning("DiLoCo run {Run}: the record refused the steps after {Step} again", this.GetPrimaryKeyString(), have);
                }
            }
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "DiLoCo run {Run}: the steps of round {Round} could not be reported", this.GetPrimaryKeyString(), completed);
        }
        logger.LogInformation("DiLoCo run {Run}: round {Round} done with replicas {Ranks}, {Bytes} bytes up, {Wait:F2} s at the barrier",
            this.GetPrimaryKeyString(), completed, string.Join(",", ordered.Select(r => r.Rank)), history[^1].BytesUp, barrierWait);
    }

    private async Task DropSilentReplicasAsync()
    {
        if (setup is not { } s || IsFinished) return;
        var now = DateTimeOffset.UtcNow;
        bool dropped = false;
        foreach (var (rank, replica) in replicas)
            if (!replica.Dropped && !reports.ContainsKey(rank) && now - replica.LastHeard > s.ReplicaTimeout)
            {
                replica.Dropped = true;
                dropped = true;
                logger.LogWarning("DiLoCo run {Run}: replica {Rank} silent for {Timeout}, dropped from round {Round}", this.GetPrimaryKeyString(), rank, s.ReplicaTimeout, round);
            }
        if (replicas.Values.All(r => r.Dropped)) error = "Every replica was lost.";
        if (dropped) await TryCompleteRoundAsync();
    }

    public Task<DiLoCoStatus> GetStatus() => Task.FromResult(Status());

    private DiLoCoStatus Status() => new(
        setup?.Attempt ?? 0, round, setup?.Rounds ?? 0, IsFinished,
        replicas.OrderBy(r => r.Key).Select(r => new DiLoCoReplicaProgress(r.Key, r.Value.Round, r.Value.LocalStep, r.Value.LastHeard, r.Value.Dropped, reports.ContainsKey(r.Key))).ToArray(),
        history.ToArray(), error);

    private static void TryDelete(string folder)
    {
        try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
