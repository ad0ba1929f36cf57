using Platform.Grains.Training;
using Platform.Grains.Ingestion;

namespace Platform.Silo.Hosting;

/// <summary>
/// The embedded default's local record of acknowledged ingest submissions: one JSON line per submission, flushed to disk
/// (fsync) before the submission is acknowledged. Azurite keeps its metadata in memory between saves (every 5 s, not
/// configurable), so a crash of the machine can lose writes the platform already treated as durable; at start
/// <see cref="SubmissionJournalReplay"/> submits every journaled job again, which a job that did survive takes as the same
/// submission (jobs are idempotent by id). Off (null folder) where storage is a real account: its writes are durable when answered.
/// </summary>
public sealed class SubmissionJournal(string? folder) : IIngestSubmissionJournal
{
    public const string IngestFile = "ingest-submissions.jsonl";

    private readonly JournalFile? file = folder is null ? null : new JournalFile(folder, IngestFile);

    public sealed record Entry(string Job, IngestJobRequest Request);

    public bool IsOn => file is not null;

    public string? IngestPath => file?.Path;

    /// <summary>Where `platform up`'s own Azurite keeps its data: the journal lives beside it, as durable as the folder.</summary>
    public static string? FolderFor(PlatformConfiguration configuration) =>
        configuration.StorageConnection.IsLocalEmulator && configuration.Storage.Emulator != EmulatorMode.Never
            ? configuration.EmulatorDataPath().TrimEnd(Path.DirectorySeparatorChar) + ".journal"
            : null;

    /// <summary>Appends the submission and returns once it is on disk.</summary>
    public Task AppendAsync(string jobId, IngestJobRequest request, CancellationToken cancellationToken = default) =>
        file?.AppendAsync([new Entry(jobId, request with { Inputs = request.Inputs.ToArray() })], cancellationToken) ?? Task.CompletedTask;

    /// <summary>The journaled submissions, the latest per job; a line cut short by a crash (never acknowledged) is skipped.</summary>
    public IReadOnlyList<Entry> Read()
    {
        return file?.ReadLatest<Entry>(entry => entry.Request is null ? null : entry.Job) ?? [];
    }
}

/// <summary>
/// At start, submits every journaled ingest job again (see <see cref="SubmissionJournal"/>), then every journaled training run the
/// scheduler no longer knows (see <see cref="TrainingSubmissionJournal"/>), once the silo is up.
/// </summary>
public sealed class SubmissionJournalReplay(SubmissionJournal journal, IGrainFactory grains, ILogger<SubmissionJournalReplay> logger,
    TrainingSubmissionJournal? training = null)
{
    public async Task ReplayAsync(CancellationToken stoppingToken)
    {
        foreach (var entry in journal.Read())
            await RedriveAsync("ingest job", entry.Job, async () =>
            {
                var job = grains.GetGrain<IIngestJobGrain>(entry.Job);
                if ((await job.GetStatus()).Phase != IngestJobPhase.NotSubmitted) return false;
                await job.Submit(entry.Request);
                return true;
            }, stoppingToken);
        var scheduler = grains.GetGrain<ITrainingSchedulerGrain>(ITrainingSchedulerGrain.Key);
        foreach (var spec in training?.Read() ?? [])
            await RedriveAsync("training run", spec.RunId, async () =>
            {
                // Queued, running, finished or cancelled: the scheduler knows it, archive included, and it stays as it is.
                if (await scheduler.Get(spec.RunId) is not null) return false;
                await scheduler.Submit(spec);
                return true;
            }, stoppingToken);
    }

    /// <param name="redrive">Submits the entry again if storage lost it; true when it did.</param>
    private async Task RedriveAsync(string what, string id, Func<Task<bool>> redrive, CancellationToken stoppingToken)
    {
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                if (await redrive())
                    logger.LogWarning("The {What} {Id} was acknowledged but lost by storage (a crash); submitted it again from the journal", what, id);
                return;
            }
            catch (Exception error) when (error is not OperationCanceledException && attempt < 10)
            {
                logger.LogWarning(error, "Re-driving journaled {What} {Id} failed; retrying", what, id);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt * 2)), stoppingToken);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                logger.LogError(error, "Could not re-drive journaled {What} {Id}", what, id);
                return;
            }
        }
    }
}
