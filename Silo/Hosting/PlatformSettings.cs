namespace Platform.Silo.Hosting;

/// <summary>
/// Settings of the host, one class per concern, bound from `appsettings.json` and from environment
/// variables prefixed `PLATFORM_` (`PLATFORM_Storage__ConnectionString` sets `Storage:ConnectionString`).
/// The README lists every option; keep the two in step.
/// </summary>
public sealed class StorageSettings
{
    public const string Section = "Storage";

    /// <summary>Azure Storage connection string for tables (grain state, reminders, clustering) and blobs (manifests).</summary>
    public string ConnectionString { get; set; } = "UseDevelopmentStorage=true";

    /// <summary>Whether `platform up` starts Azurite: Auto (when the connection string names the local emulator and nothing listens on its ports), Always, Never.</summary>
    public EmulatorMode Emulator { get; set; } = EmulatorMode.Auto;

    /// <summary>Folder for Azurite's data, so the embedded platform keeps its state across restarts. Relative paths are under the repository's git-ignored `.state/`.</summary>
    public string EmulatorDataDirectory { get; set; } = "azurite";

    /// <summary>Blob container holding dataset manifests.</summary>
    public string ManifestContainer { get; set; } = "datasets";

    /// <summary>How long grain-state writes, manifest appends and workers' reports keep retrying while storage is unreachable; an outage shorter than this costs no attempt of the work.</summary>
    public TimeSpan OutageRetryCeiling { get; set; } = TimeSpan.FromSeconds(90);
}

public enum EmulatorMode { Auto, Always, Never }

public sealed class ClusteringSettings
{
    public const string Section = "Clustering";

    /// <summary>Localhost (one process, no shared membership table) or AzureTable (several silo processes form one cluster).</summary>
    public ClusteringMode Mode { get; set; } = ClusteringMode.Localhost;

    public string ClusterId { get; set; } = "simvlm-dev";

    /// <summary>Keys grain state and reminders in storage: keep it across deployments or the data is orphaned.</summary>
    public string ServiceId { get; set; } = "simvlm-platform";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>Address other silos reach this one at (AzureTable mode). Loopback by default.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// A PKCS#12 file (.pfx/.p12, with its private key) that turns on mutual TLS on the silo and gateway ports: every silo
    /// and client must be given the same file. Empty: no TLS (fine on loopback, not across machines).
    /// </summary>
    public string? TlsCertificate { get; set; }

    /// <summary>Password of <see cref="TlsCertificate"/>, if it has one.</summary>
    public string? TlsCertificatePassword { get; set; }

    /// <summary>
    /// How long a client command tries to reach a gateway before it gives up and says so in one line. Orleans on its own retries a
    /// gateway that refuses the client (another TLS certificate) or does not answer for about three minutes, then fails with a stack trace.
    /// </summary>
    public TimeSpan ClientConnectTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The silo runs in a Kubernetes pod (AzureTable mode): Orleans' Kubernetes hosting takes the silo name, advertised
    /// address and cluster/service ids from the pod (`POD_NAME`, `POD_IP`, `ORLEANS_CLUSTER_ID`, `ORLEANS_SERVICE_ID`)
    /// instead of `AdvertisedAddress`, and deletes the pods of silos the cluster declared dead. See deploy/k8s.
    /// </summary>
    public bool Kubernetes { get; set; }
}

public enum ClusteringMode { Localhost, AzureTable }

public sealed class HangfireSettings
{
    public const string Section = "Hangfire";

    /// <summary>Empty: in-memory job storage (not durable). Set: Hangfire stores jobs in this PostgreSQL database.</summary>
    public string? PostgreSqlConnectionString { get; set; }

    /// <summary>PostgreSQL schema for Hangfire's tables.</summary>
    public string Schema { get; set; } = "hangfire";

    /// <summary>Concurrent Hangfire workers in this process.</summary>
    public int WorkerCount { get; set; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>How often the server looks for due recurring and delayed jobs (Hangfire's default, 15 s). Sub-minute watch schedules need it shorter.</summary>
    public TimeSpan SchedulePollingInterval { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Folders watched for new web dumps: each new file is ingested once, by a Hangfire recurring job per folder.</summary>
public sealed class IngestWatchSettings
{
    public const string Section = "IngestWatch";

    /// <summary>The watched folders (none by default). Environment: `PLATFORM_IngestWatch__Folders__0__Path` and so on.</summary>
    public List<WatchedFolderSettings> Folders { get; set; } = [];

    /// <summary>Where each watch-started job writes its extraction outputs, one subfolder per job. Relative paths are under the repository's git-ignored `.state/`.</summary>
    public string WorkDirectory { get; set; } = "ingest";
}

public sealed class WatchedFolderSettings
{
    /// <summary>Names the watch (its recurring job is `ingest-watch-NAME`; its memory of claimed files is kept under this name). Default: the folder's own name (a blob URL's last path segment).</summary>
    public string? Name { get; set; }

    /// <summary>
    /// The folder to watch (not its subfolders), or a blob container or prefix as `http(s)://account-endpoint/container[/prefix]`
    /// in the platform's storage account (`Storage:ConnectionString`): the blobs directly under it, settled by their Last-Modified time.
    /// </summary>
    public string Path { get; set; } = "";

    public bool IsBlobContainer => Platform.Ingestion.Runs.DumpInputs.IsBlobUrl(Path);

    /// <summary>The dataset new files are ingested into (optional).</summary>
    public string? Dataset { get; set; }

    /// <summary>`;`-separated file patterns that count as dumps.</summary>
    public string Patterns { get; set; } = "*.warc;*.warc.gz;*.wat;*.wat.gz;*.tsv;*.csv;*.jsonl;*.parquet";

    /// <summary>Hangfire cron expression of the scans: 5 fields, or 6 with seconds first. Default: every minute.</summary>
    public string Cron { get; set; } = "* * * * *";

    /// <summary>A file is taken only once it has not been written to for this long, so a copy still in progress is not ingested half-written.</summary>
    public TimeSpan SettleTime { get; set; } = TimeSpan.FromSeconds(30);

    public string EffectiveName => !string.IsNullOrWhiteSpace(Name) ? Name
        : IsBlobContainer ? Uri.TryCreate(Path, UriKind.Absolute, out var url) ? Uri.UnescapeDataString(url.AbsolutePath).TrimEnd('/').Split('/')[^1] : ""
        : System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(Path)));
}

/// <summary>What this silo offers for training.</summary>
public sealed class TrainingSettings
{
    public const string Section = "Training";

    /// <summary>
    /// The devices this silo advertises: empty or `auto` (the CUDA devices libtorch finds, else one CPU slot),
    /// `none` (never trains), or a comma-separated list of `cpu` and `cuda:N` (e.g. `cpu,cpu`, `cuda:0,cuda:1`).
    /// </summary>
    public string Devices { get; set; } = "";

    /// <summary>
    /// Parent folder of the runs' checkpoint folders (`CheckpointRoot/RUN`) when a run names none; every silo must reach it
    /// (a shared mount in a cluster). Relative paths are under the repository's git-ignored `.state/`.
    /// </summary>
    public string CheckpointRoot { get; set; } = "checkpoints";

    /// <summary>
    /// The benchmark that runs naming no evaluations are scored on (captioning and VQA zero-shot), generated there once when
    /// it holds none; every silo must reach it. Relative paths are under `.state/`.
    /// </summary>
    public string BenchmarkData { get; set; } = "benchmark";

    /// <summary>A trainer that has not sent a heartbeat for this long is presumed lost; its run resumes from its latest checkpoint elsewhere.</summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A trainer that heartbeats but whose step has not advanced for this long is presumed hung and treated as lost (00:00:00: off).</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Failed or lost attempts after which a run fails instead of being queued again.</summary>
    public int MaxFailures { get; set; } = 5;

    /// <summary>How often the scheduler, while active, expires leases, reclaims the devices of departed silos and places waiting runs.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Steps of the recent window whose metrics a run's history keeps every one of.</summary>
    public int HistoryRecentSteps { get; set; } = 500;

    /// <summary>Points at most that a run's history keeps before its recent window (downsampled evenly), so its record stays bounded however long it trains.</summary>
    public int HistoryOlderPoints { get; set; } = 500;
}

public sealed class WebSettings
{
    public const string Section = "Web";

    /// <summary>HTTP address(es), `;`-separated. Loopback by default so nothing is exposed by accident.</summary>
    public string Urls { get; set; } = "http://127.0.0.1:5080";

    /// <summary>
    /// Name of an ASP.NET authorization policy guarding `/orleans` and `/hangfire`. Empty: both
    /// dashboards answer local requests only.
    /// </summary>
    public string? DashboardAuthorizationPolicy { get; set; }

    /// <summary>
    /// Host names requests may carry (`;`-separated; `*.example.com` allowed). Empty: `localhost`, `127.0.0.1`,
    /// `[::1]` and the hosts of <see cref="Urls"/>, or any host when a URL binds every address (`0.0.0.0`,
    /// `*`, `+`, `[::]`). Refusing other hosts stops DNS rebinding: a page that points its own name at
    /// 127.0.0.1 cannot make a browser on this machine talk to the platform.
    /// </summary>
    public string? AllowedHosts { get; set; }

    /// <summary>
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed (`;`-separated). Empty: a request that
    /// carries forwarding headers is never local, since a proxy on this machine would otherwise make every
    /// request look local.
    /// </summary>
    public string? TrustedProxies { get; set; }

    /// <summary>
    /// Folders (`;`-separated) under which the HTTP API accepts local paths: inputs it reads and outputs and
    /// dataset locations it writes. Relative entries lie under `.state/`. Empty: `.state/`, the system's
    /// temporary folder and the home folder of the user running the platform.
    /// </summary>
    public string? ApiRoots { get; set; }

    private static string[] Split(string? value) => (value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public IReadOnlyList<System.Net.IPAddress> TrustedProxyAddresses() =>
        [.. Split(TrustedProxies).Select(p => System.Net.IPAddress.TryParse(p, out var ip) ? ip : throw new FormatException($"'{p}' is not an IP address."))];

    public IReadOnlyList<string> EffectiveAllowedHosts()
    {
        var configured = Split(AllowedHosts);
        if (configured.Length > 0) return configured;
        var hosts = new List<string> { "localhost", "127.0.0.1", "[::1]" };
        foreach (var url in Split(Urls))
        {
            var authority = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..].Split('/')[0];
            var host = authority.StartsWith('[') ? authority[..(authority.IndexOf(']') + 1)] : authority.Split(':')[0];
            if (host is "*" or "+" or "0.0.0.0" or "[::]") return ["*"];
            if (!hosts.Contains(host, StringComparer.OrdinalIgnoreCase)) hosts.Add(host);
        }
        return hosts;
    }
}
