using System.Diagnostics;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Platform.Datasets;
using Platform.Grains.Devices;
using Platform.Model;
using Platform.Model.Training;
using Platform.Model.Training.DiLoCo;

namespace Platform.Grains.Training;

/// <summary>
/// See <see cref="IDiLoCoReplicaGrain"/>. Each round: start from the global weights the coordinator published (round 0: the
/// replica's own initialisation, which is the same on every replica since they draw it from the same seed and vocabulary),
/// train H local steps on the data part of its rank and round, write the pseudo-gradient's chunks to the run's exchange (a
/// folder or blobs, see <see cref="DiLoCoExchange"/>) and report; then wait for the next round. Its trainer's states pass
/// through a scratch folder of its own silo, never one another silo must see. The trainer's own AdamW carries its moments from round to round. It heartbeats its
/// step to the coordinator, which drops a replica that falls silent, and stops when the coordinator refuses it.
/// </summary>
[DevicePlacement]
public sealed class DiLoCoReplicaGrain(BlobServiceClient blobs, ILocalSiloDetails localSilo, ILogger<DiLoCoReplicaGrain> logger) : Grain, IDiLoCoReplicaGrain
{
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan RoundPollInterval = TimeSpan.FromMilliseconds(100);
    private const int MaxChunkBytes = 4 << 20;

    private readonly CancellationTokenSource stop = new();
    private Task? running;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Nothing calls a replica while it trains; idle collection would lose the activation Stop must reach.
        DelayDeactivation(Timeout.InfiniteTimeSpan);
        return Task.CompletedTask;
    }

    public Task Start(DiLoCoReplicaAssignment assignment)
    {
        var grains = GrainFactory;
        running ??= Task.Run(async () =>
        {
            try
            {
                await RunAsync(grains, assignment, stop.Token);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                logger.LogError(e, "DiLoCo replica {Rank} of run {Run} attempt {Attempt} failed", assignment.Rank, assignment.Spec.RunId, assignment.Attempt);
            }
        });
        return Task.CompletedTask;
    }

    public Task Stop()
    {
        stop.Cancel();
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private async Task RunAsync(IGrainFactory grains, DiLoCoReplicaAssignment a, CancellationToken cancellationToken)
    {
        string silo = localSilo.SiloAddress.ToParsableString();
        var coordinator = grains.GetGrain<IDiLoCoCoordinatorGrain>(a.Spec.RunId);
        var spec = a.Spec;
        var exchange = await DiLoCoExchange.OpenAsync(a.Exchange, blobs, cancellationToken);
        string scratch = LocalScratch.Folder("platform-diloco", a.Spec.RunId, $"replica-{a.Rank}-attempt-{a.Attempt}-{Guid.NewGuid():N}");
        var status = await coordinator.GetStatus();
        int round = status.Round;
        int localStep = 0;
        bool alive = true;
        // Beating before the setup: building the tokenizer and the trainer can outlast the coordinator's replica timeout on a
        // loaded machine, and a replica dropped for it makes the round average one replica, so a resumed run is no longer exact.
        using var heartbeat = new PeriodicTimer(HeartbeatInterval);
        var beating = Task.Run(async () =>
        {
            while (await heartbeat.WaitForNextTickAsync(cancellationToken))
                if (!await coordinator.Heartbeat(a.Attempt, a.Rank, Volatile.Read(ref round), Volatile.Read(ref localStep))) Volatile.Write(ref alive, false);
        }, CancellationToken.None);
        try
        {
            await TrainRoundsAsync();
        }
        finally
        {
            heartbeat.Dispose();
            try { await beating; } catch (OperationCanceledException) { }
            LocalScratch.TryDelete(scratch);
            logger.LogInformation("DiLoCo replica {Rank} of run {Run} attempt {Attempt} ends at round {Round}", a.Rank, spec.RunId, a.Attempt, round);
        }

        async Task TrainRoundsAsync()
        {
            var options = TrainingSpecMapping.DiLoCo(spec);
            var shards = a.ShardLocations.Select(location => DatasetShard.AtLocation(location, blobs)).ToArray();
            var request = TrainingSpecMapping.Request(spec, shards, scratch, a.Device);
            var preset = SimVlmConfig.Preset(spec.Preset);
            var tokenizer = TextTokenizer.Build(spec.Tokenizer, ShardPrefixLmData.ReadAllTexts(shards, spec.TextDocuments), preset.VocabSize);
            var config = preset with { VocabSize = tokenizer.VocabSize };
            var partition = new DataPartition(shards.Length, spec.Seed);
            IPrefixLmData PartData(int epoch, int part) =>
                new ShardPrefixLmData([shards[part]], spec.TextDocuments, tokenizer, config, spec.Seed + (ulong)epoch * 0x9E3779B97F4A7C15UL + (ulong)a.Rank, spec.ShuffleBuffer);

            var (firstEpoch, firstPart) = partition.PartFor(round, a.Rank, options.Trainers);
            var data = new RoundData(PartData(firstEpoch, firstPart));
            // The run's checkpoints are the coordinator's outer state and, beside it, each replica's inner state at the round
            // boundary (ReplicaCheckpoints): a replica resuming a round goes on with the moments and schedule it had.
            var trainerOptions = request.Options with { CheckpointDirectory = null, Steps = Math.Max(spec.Steps, 1) };
            using var trainer = (round > 0 ? await ReplicaCheckpoints.TryResumeAsync(exchange, a.Rank, round, data, trainerOptions, scratch, cancellationToken) : null)
                ?? SimVlmTrainer.Start(config, trainerOptions, tokenizer, data);
            // From the previous report to the round's opening: what the barrier and the coordinator cost this replica.
            var waiting = new Stopwatch();
            while (!cancellationToken.IsCancellationRequested && Volatile.Read(ref alive))
            {
                status = await coordinator.GetStatus();
                if (status.Finished || status.Attempt != a.Attempt) break;
                if (status.Round < round) { await Task.Delay(RoundPollInterval, cancellationToken); continue; }
                double waitSeconds = waiting.Elapsed.TotalSeconds;
                Volatile.Write(ref round, status.Round);
                var (epoch, part) = partition.PartFor(round, a.Rank, options.Trainers);
                if (round != 0 || epoch != firstEpoch || part != firstPart)
                {
                    // The loader has drawn ahead from the old part: those batches are dropped and it restarts on the new one.
                    trainer.DiscardPreparedBatches();
                    data.SwitchTo(PartData(epoch, part));
                }
                var phase = Stopwatch.StartNew();
                var start = round == 0 ? NamedWeights.Read(trainer.Model) : await OuterOptimizer.ReadWeightsAsync(exchange, DiLoCoExchange.OuterFolder, round, cancellationToken);
                NamedWeights.Write(trainer.Model, start);
                double fetchSeconds = phase.Elapsed.TotalSeconds;
                var steps = new List<TrainingStepRecord>(options.SyncEvery);
                foreach (var metrics in trainer.TrainSteps(options.SyncEvery, cancellationToken))
                {
                    steps.Add(TrainingSpecMapping.Record(metrics, DateTimeOffset.UtcNow));
                    Volatile.Write(ref localStep, steps.Count);
                }
                if (cancellationToken.IsCancellationRequested) break;
                phase.Restart();
                var pseudoGradient = NamedWeights.PseudoGradient(start, NamedWeights.Read(trainer.Model));
                double pseudoGradientSeconds = phase.Elapsed.TotalSeconds;
                phase.Restart();
                // Before the report, and only where the run checkpoints: once the coordinator has every report it saves the outer
                // state of such a round, and a restart from it needs this replica's state for that round. At the run's end nothing
                // resumes, and the run's last checkpoint needs only the description.
                int rounds = spec.Steps / options.SyncEvery;
                double stateSaveSeconds = 0;
                if (round + 1 >= rounds || GlobalCheckpoint.IsDueAtRound(round + 1, options.SyncEvery, spec.CheckpointEvery, rounds))
                {
                    if (round + 1 >= rounds) await ReplicaCheckpoints.SaveDescriptionAsync(trainer, exchange, a.Rank, round + 1, scratch, cancellationToken);
                    else await ReplicaCheckpoints.SaveAsync(trainer, exchange, a.Rank, round + 1, scratch, cancellationToken);
                    stateSaveSeconds = phase.Elapsed.TotalSeconds;
                }
                phase.Restart();
                int chunks = await exchange.PutChunksAsync(DiLoCoExchange.RankFolder(round, a.Rank),
                    WeightChunks.Split(pseudoGradient, options.SyncPrecision, MaxChunkBytes), cancellationToken);
                int initialChunks = round == 0
                    ? await exchange.PutChunksAsync(DiLoCoExchange.InitialFolder(round, a.Rank), WeightChunks.Split(start, SyncPrecisions.Fp32, MaxChunkBytes), cancellationToken)
                    : 0;
                var timings = new DiLoCoReplicaTimings(waitSeconds, fetchSeconds, pseudoGradientSeconds, phase.Elapsed.TotalSeconds, stateSaveSeconds);
                var report = new DiLoCoRoundReport(a.Rank, round, chunks, initialChunks, epoch, part, steps, silo, timings);
                bool taken;
                // A refusal while the coordinator is still at this round is one that reactivated and is not open yet: try again.
                while (!(taken = await coordinator.ReportRound(a.Attempt, report)) && !cancellationToken.IsCancellationRequested
                       && await coordinator.GetStatus() is { Finished: false } now && now.Round == round && now.Attempt <= a.Attempt)
                    await Task.Delay(RoundPollInterval, cancellationToken);
                if (!taken)
                    logger.LogWarning("DiLoCo replica {Rank} of run {Run}: round {Round} was not taken (dropped, or the round moved on)", a.Rank, spec.RunId, round);
                Volatile.Write(ref localStep, 0);
                Volatile.Write(ref round, round + 1);
                waiting.Restart();
            }
        }
    }
}
