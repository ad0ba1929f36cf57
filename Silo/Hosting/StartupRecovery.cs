using Platform.Datasets;

namespace Platform.Silo.Hosting;

/// <summary>
/// What the embedded default does at start, once its silo is up, to make good a crash: re-drives the journaled shard commits (or, after a
/// clean stop, compacts their journal)
/// (first: a resumed job waits out its leases before it writes shards again), then the journaled submissions, then checks the manifest of every
/// dataset the journal names against its shard files and reports what the journals could not repair (<see cref="DatasetCheckBoard"/>, and the log).
/// </summary>
/// <remarks>
/// Hashing every committed tar reads every byte of every dataset, which only a crash in the middle of a write can have damaged: after
/// a clean stop (<see cref="CleanStopMarker"/>) the tars are only looked for.
/// </remarks>
public sealed class StartupRecovery(ShardCommitJournalReplay commits, SubmissionJournalReplay submissions, DatasetManifestStore manifests,
    DatasetCheckBoard board, ILogger<StartupRecovery> logger, CleanStopMarker? cleanStop = null, IHostApplicationLifetime? lifetime = null) : BackgroundService
{
    private bool stoppedCleanly;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Taken before this run can write anything, so that a crash of this run leaves no marker behind.
        stoppedCleanly = cleanStop?.Take() ?? false;
        if (cleanStop is not null) lifetime?.ApplicationStopped.Register(cleanStop.Leave);
        // Before the web server starts (hosted services start in order, it last): no answer of /healthz comes before this.
        board.Started();
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var journaledDatasets = await commits.ReplayAsync(stoppingToken, lastRunStoppedCleanly: stoppedCleanly);
            await submissions.ReplayAsync(stoppingToken);
            await CheckDatasetsAsync(journaledDatasets, stoppingToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // The host stays up to say so on /healthz (503), rather than stopping with it.
            logger.LogError(error, "The start-up check failed: could not re-drive the journals or check the datasets' manifests against their shard files");
            board.CouldNotCheck(error.Message);
        }
    }

    /// <param name="datasets">
    /// The datasets this host's journal names: what a crash of this host can have damaged. Others in the same storage (written by
    /// other hosts, or before the journal) are not this host's to vouch for; a host started on shared storage would otherwise
    /// report their missing tars as its own damage.
    /// </param>
    private async Task CheckDatasetsAsync(IReadOnlyList<string> datasets, CancellationToken stoppingToken)
    {
        var results = new List<DatasetCheckResult>();
        foreach (var dataset in datasets)
        {
            var contents = await manifests.ReadAsync(dataset, stoppingToken);
            var result = await DatasetManifestCheck.CheckAsync(dataset, contents.Entries, manifests.Resolve, stoppingToken, hashTars: !stoppedCleanly);
            foreach (var problem in result.Problems)
                if (problem.IsDamage) logger.LogError("Dataset check: {Problem}", problem.Detail);
                else logger.LogWarning("Dataset check: {Problem} (a job still running may commit it)", problem.Detail);
            results.Add(result);
        }
        board.Checked(results);
        if (results.Count == 0)
        {
            // A new state (or one whose host never committed a shard) has no marker either; "did not stop cleanly" would alarm for nothing.
            logger.LogInformation("Dataset check: this host's journal names no dataset, so there is nothing to check");
            return;
        }
        logger.LogInformation("Dataset check: {Shards} shards of {Datasets} datasets checked against their files ({Hashed} hashed; {Why}), {Damaged} damaged, {Unlisted} tars not in a manifest",
            results.Sum(r => r.ShardsChecked), results.Count, results.Sum(r => r.ShardsHashed),
            stoppedCleanly ? "the last run stopped cleanly, so the tars were only looked for" : "the last run did not stop cleanly",
            results.Sum(r => r.Problems.Count(p => p.IsDamage)),
            results.Sum(r => r.Problems.Count(p => !p.IsDamage)));
    }
}

/// <summary>Where the start-up check (<see cref="StartupRecovery"/>) stands, for the health endpoint.</summary>
public sealed class DatasetCheckBoard
{
    private volatile State current = new(false, null, null);

    private sealed record State(bool Running, IReadOnlyList<DatasetCheckResult>? Results, string? Error);

    /// <summary>From the check's start until it has checked the datasets or failed.</summary>
    public bool Running => current.Running;

    /// <summary>Null until the check has run (or on a host that runs none).</summary>
    public IReadOnlyList<DatasetCheckResult>? Results => current.Results;

    public string? Error => current.Error;

    public void Started() => current = new State(true, null, null);

    public void Checked(IReadOnlyList<DatasetCheckResult> results) => current = new State(false, results, null);

    public void CouldNotCheck(string error) => current = new State(false, null, error);
}

/// <summary>
/// A file the embedded default leaves in its journal folder when it stopped cleanly, and takes away when it starts: found at start, it
/// says the last run ended with every write finished; missing, that the run before crashed (or the state is new).
/// </summary>
public sealed class CleanStopMarker(string folder)
{
    public const string FileName = "clean-stop";

    public string Path => System.IO.Path.Combine(folder, FileName);

    /// <summary>Whether the last run stopped cleanly; removes the marker, so that a crash of this run finds none.</summary>
    public bool Take()
    {
        if (!File.Exists(Path)) return false;
        File.Delete(Path);
        // Until the folder is flushed, a machine crash could bring the marker back, and the start after it would take a crashed run for a clean one.
        JournalFile.FlushFolder(folder);
        return true;
    }

    /// <summary>Called once the host has stopped, every hosted service (the silo, the storage) with it.</summary>
    public void Leave()
    {
        Directory.CreateDirectory(folder);
        using var file = new FileStream(Path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        file.Write(System.Text.Encoding.UTF8.GetBytes(DateTimeOffset.UtcNow.ToString("O")));
        file.Flush(flushToDisk: true);
    }
}
