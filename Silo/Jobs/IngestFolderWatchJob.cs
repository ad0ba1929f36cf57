using Hangfire;
using Hangfire.Storage;
using Platform.Grains.Ingestion;
using Platform.Silo.Hosting;

namespace Platform.Silo.Jobs;

/// <summary>
/// Hangfire recurring job of one watched folder: lists the settled dumps, lets the folder's
/// <see cref="IIngestWatchGrain"/> claim the new ones and submits an ingest job for each claim not yet
/// submitted. Every step is idempotent (claims are keyed by path, job ids by claim, and an ingest job
/// accepts the same submission again), so overlapping scans, Hangfire retries and restarts ingest each
/// file exactly once. Not retried by Hangfire: the next scan is the retry.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class IngestFolderWatchJob(IGrainFactory grains, PlatformConfiguration configuration, ILogger<IngestFolderWatchJob> logger)
{
    public const string RecurringJobPrefix = "ingest-watch-";

    public static string RecurringJobId(string watchName) => RecurringJobPrefix + watchName;

    public async Task<WatchScanReport> RunAsync(string watchName)
    {
        var folder = configuration.IngestWatch.Folders.FirstOrDefault(f => f.EffectiveName == watchName)
            ?? throw new InvalidOperationException($"No watched folder is named '{watchName}' in the IngestWatch settings any more; its recurring job is removed at the next start.");
        var root = Path.GetFullPath(folder.Path);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"The watched folder '{root}' (IngestWatch folder '{watchName}') does not exist; create it or fix IngestWatch:Folders:N:Path.");

        var settled = SettledFiles(root, folder, DateTimeOffset.UtcNow);
        var watch = grains.GetGrain<IIngestWatchGrain>(watchName);
        var claims = await watch.Claim(settled);
        var submitted = new List<string>();
        foreach (var claim in claims)
        {
            var input = Path.Combine(root, claim.RelativePath);
            var output = Path.Combine(configuration.IngestWatchWorkPath(), claim.JobId);
            var status = await grains.GetGrain<IIngestJobGrain>(claim.JobId)
                .Submit(new IngestJobRequest(new[] { input }, output, new IngestJobSettings(), folder.Dataset));
            submitted.Add(claim.RelativePath);
            logger.LogInformation("Watch {Watch}: {File} ({Bytes} bytes) is ingest job {Job}, {Phase}", watchName, claim.RelativePath, claim.SizeBytes, claim.JobId, status.Phase);
        }
        if (submitted.Count > 0) await watch.MarkSubmitted(submitted);
        return new WatchScanReport(watchName, settled.Count, submitted);
    }

    /// <summary>Dumps directly in the folder that match a pattern, are not hidden or partial, and have not been written to for the settle time.</summary>
    public static IReadOnlyList<DroppedFile> SettledFiles(string root, WatchedFolderSettings folder, DateTimeOffset now)
    {
        var patterns = folder.Patterns.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return patterns
            .SelectMany(p => new DirectoryInfo(root).EnumerateFiles(p, SearchOption.TopDirectoryOnly))
            .DistinctBy(f => f.FullName)
            .Where(f => !f.Name.StartsWith('.') && !IsPartial(f.Name))
            .Where(f => now - f.LastWriteTimeUtc >= folder.SettleTime)
            .Select(f => new DroppedFile(Path.GetRelativePath(root, f.FullName), f.Length, f.LastWriteTimeUtc))
            .OrderBy(f => f.RelativePath, StringComparer.Ordinal)
            .ToList();
    }

    private static bool IsPartial(string name) =>
        name.EndsWith(".tmp", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".part", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith(".partial", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".crdownload", StringComparison.OrdinalIgnoreCase);
}

/// <param name="SettledFiles">Dumps in the folder at this scan.</param>
/// <param name="Submitted">Files whose ingest job this scan submitted (new claims, or claims a failed scan left unsubmitted).</param>
public sealed record WatchScanReport(string Watch, int SettledFiles, IReadOnlyList<string> Submitted);

/// <summary>
/// Registers one recurring Hangfire job per configured folder at start, removes those of folders no
/// longer configured, and runs each once right away so dumps dropped while the platform was down are
/// not left waiting for the first cron tick.
/// </summary>
public sealed class IngestWatchScheduler(IRecurringJobManager recurringJobs, JobStorage storage, PlatformConfiguration configuration, ILogger<IngestWatchScheduler> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (folder, index) in configuration.IngestWatch.Folders.Select((f, i) => (f, i)))
        {
            var name = folder.EffectiveName;
            var id = IngestFolderWatchJob.RecurringJobId(name);
            try
            {
                recurringJobs.AddOrUpdate<IngestFolderWatchJob>(id, job => job.RunAsync(name), folder.Cron, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
            }
            catch (ArgumentException e)
            {
                throw new PlatformConfigurationException([$"{SettingsValidation.Name(IngestWatchSettings.Section, $"Folders:{index}:Cron")} = '{folder.Cron}': {e.Message}"]);
            }
            wanted.Add(id);
            recurringJobs.Trigger(id);
            logger.LogInformation("Watching {Folder} for new dumps ({Patterns}, cron '{Cron}') as {Job}", Path.GetFullPath(folder.Path), folder.Patterns, folder.Cron, id);
        }
        using var connection = storage.GetConnection();
        foreach (var stale in connection.GetRecurringJobs().Select(j => j.Id).Where(id => id.StartsWith(IngestFolderWatchJob.RecurringJobPrefix, StringComparison.Ordinal) && !wanted.Contains(id)))
        {
            recurringJobs.RemoveIfExists(stale);
            logger.LogInformation("Removed recurring job {Job}: its folder is no longer configured", stale);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
