using System.IO.Enumeration;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Hangfire;
using Hangfire.Storage;
using Platform.Grains.Ingestion;
using Platform.Ingestion.Runs;
using Platform.Silo.Hosting;

namespace Platform.Silo.Jobs;

/// <summary>
/// Hangfire recurring job of one watched folder or blob container (prefix): lists the settled dumps, lets the folder's
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
        IReadOnlyList<DroppedFile> settled;
        Func<string, string> inputOf;
        if (folder.IsBlobContainer)
        {
            var (container, prefix) = new DumpInputs(configuration.StorageConnection.CreateBlobClient()).ContainerOf(folder.Path);
            if (!await container.ExistsAsync())
                throw new DirectoryNotFoundException($"The watched blob container '{container.Uri}' (IngestWatch folder '{watchName}') does not exist; create it or fix IngestWatch:Folders:N:Path.");
            var directory = BlobDirectory(prefix);
            settled = await SettledBlobsAsync(container, directory, folder, DateTimeOffset.UtcNow, CancellationToken.None);
            // The blob's URL as the container's client names it, so the job's unit reads it with the silos' account.
            inputOf = relativePath => container.GetBlobClient(directory + relativePath).Uri.AbsoluteUri;
        }
        else
        {
            var root = Path.GetFullPath(folder.Path);
            if (!Directory.Exists(root))
                throw new DirectoryNotFoundException($"The watched folder '{root}' (IngestWatch folder '{watchName}') does not exist; create it or fix IngestWatch:Folders:N:Path.");
            settled = SettledFiles(root, folder, DateTimeOffset.UtcNow);
            inputOf = relativePath => Path.Combine(root, relativePath);
        }

        var watch = grains.GetGrain<IIngestWatchGrain>(watchName);
        var claims = await watch.Claim(settled);
        var submitted = new List<string>();
        foreach (var claim in claims)
        {
            var submission = IngestSubmissions.ForWatchedFile(claim.JobId, inputOf(claim.RelativePath), configuration.IngestWatchWorkPath(), folder.Dataset);
            var status = await grains.GetGrain<IIngestJobGrain>(submission.JobId).Submit(submission.Request);
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

    /// <summary>
    /// As <see cref="SettledFiles"/> for a blob container: the blobs directly under <paramref name="directory"/> (a prefix
    /// ending in '/', or empty for the whole container's top level) that match a pattern, are not hidden or partial, and
    /// were last modified at least the settle time ago. An upload's blocks are invisible until it commits, so a blob listed
    /// is complete; the settle time still leaves room for a tool that writes a dump as several blobs or rewrites it.
    /// </summary>
    public static async Task<IReadOnlyList<DroppedFile>> SettledBlobsAsync(BlobContainerClient container, string directory, WatchedFolderSettings folder,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var patterns = folder.Patterns.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var settled = new List<DroppedFile>();
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, directory, cancellationToken))
        {
            var name = blob.Name[directory.Length..];
            if (name.Contains('/') || name.StartsWith('.') || IsPartial(name)) continue;
            if (!patterns.Any(p => FileSystemName.MatchesSimpleExpression(p, name))) continue;
            var modified = blob.Properties.LastModified ?? now;
            if (now - modified < folder.SettleTime) continue;
            settled.Add(new DroppedFile(name, blob.Properties.ContentLength ?? 0, modified));
        }
        settled.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
        return settled;
    }

    /// <summary>A prefix as a "folder": empty (the container) or ending in '/'.</summary>
    public static string BlobDirectory(string prefix) => prefix.Length == 0 || prefix.EndsWith('/') ? prefix : prefix + "/";

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
            logger.LogInformation("Watching {Folder} for new dumps ({Patterns}, cron '{Cron}') as {Job}",
                folder.IsBlobContainer ? folder.Path : Path.GetFullPath(folder.Path), folder.Patterns, folder.Cron, id);
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
