using Platform.Datasets;

namespace Platform.Silo.Hosting;

/// <summary>
/// What the embedded default does at start, once its silo is up, to make good a crash: re-drives the journaled shard commits
/// (first: a resumed job waits out its leases before it writes shards again), then the journaled submissions, then checks every dataset's manifest
/// against its shard files and reports what the journals could not repair (<see cref="DatasetCheckBoard"/>, and the log).
/// </summary>
public sealed class StartupRecovery(ShardCommitJournalReplay commits, SubmissionJournalReplay submissions, DatasetManifestStore manifests,
    DatasetCheckBoard board, ILogger<StartupRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await commits.ReplayAsync(stoppingToken);
        await submissions.ReplayAsync(stoppingToken);
        try
        {
            await CheckDatasetsAsync(stoppingToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            logger.LogError(error, "Could not check the datasets' manifests against their shard files");
            board.CouldNotCheck(error.Message);
        }
    }

    private async Task CheckDatasetsAsync(CancellationToken stoppingToken)
    {
        var results = new List<DatasetCheckResult>();
        foreach (var dataset in await manifests.ListDatasetsAsync(stoppingToken))
        {
            var contents = await manifests.ReadAsync(dataset, stoppingToken);
            var result = await DatasetManifestCheck.CheckAsync(dataset, contents.Entries, manifests.Resolve, stoppingToken);
            foreach (var problem in result.Problems)
                if (problem.IsDamage) logger.LogError("Dataset check: {Problem}", problem.Detail);
                else logger.LogWarning("Dataset check: {Problem} (a job still running may commit it)", problem.Detail);
            results.Add(result);
        }
        board.Checked(results);
        logger.LogInformation("Dataset check: {Shards} shards of {Datasets} datasets checked against their files, {Damaged} damaged, {Unlisted} tars not in a manifest",
            results.Sum(r => r.ShardsChecked), results.Count, results.Sum(r => r.Problems.Count(p => p.IsDamage)),
            results.Sum(r => r.Problems.Count(p => !p.IsDamage)));
    }
}

/// <summary>The outcome of the start-up dataset check, for the health endpoint.</summary>
public sealed class DatasetCheckBoard
{
    private volatile State current = new(null, null);

    private sealed record State(IReadOnlyList<DatasetCheckResult>? Results, string? Error);

    /// <summary>Null until the check has run (or on a host that runs none).</summary>
    public IReadOnlyList<DatasetCheckResult>? Results => current.Results;

    public string? Error => current.Error;

    public void Checked(IReadOnlyList<DatasetCheckResult> results) => current = new State(results, null);

    public void CouldNotCheck(string error) => current = new State(null, error);
}
