using Platform.Silo.Storage;
using Microsoft.Extensions.Options;

namespace Platform.Silo.Hosting;

/// <summary>
/// Start-time checks that name the bad setting and the environment variable that sets it, so a
/// typo fails the start with a message instead of a stack trace minutes later.
/// </summary>
public static class SettingsValidation
{
    public static string Name(string section, string key) => $"{section}:{key} (environment variable PLATFORM_{section}__{key})";

    public sealed class Storage : IValidateOptions<StorageSettings>
    {
        public ValidateOptionsResult Validate(string? name, StorageSettings s)
        {
            var errors = new List<string>();
            if (string.IsNullOrWhiteSpace(s.ConnectionString))
                errors.Add($"{Name(StorageSettings.Section, nameof(s.ConnectionString))} is empty; use `UseDevelopmentStorage=true` for the local emulator or an Azure Storage connection string.");
            else if (!StorageConnection.TryParse(s.ConnectionString, out _, out var problem))
                errors.Add($"{Name(StorageSettings.Section, nameof(s.ConnectionString))} is not a usable Azure Storage connection string: {problem}");
            if (!IsValidContainerName(s.ManifestContainer))
                errors.Add($"{Name(StorageSettings.Section, nameof(s.ManifestContainer))} = '{s.ManifestContainer}' is not a valid blob container name (3-63 lowercase letters, digits and single hyphens).");
            if (s.OutageRetryCeiling <= TimeSpan.Zero)
                errors.Add($"{Name(StorageSettings.Section, nameof(s.OutageRetryCeiling))} = {s.OutageRetryCeiling} must be positive (default 00:01:30).");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }

        private static bool IsValidContainerName(string n) =>
            n.Length is >= 3 and <= 63 && n.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
            && n[0] != '-' && n[^1] != '-' && !n.Contains("--", StringComparison.Ordinal);
    }

    public sealed class Clustering : IValidateOptions<ClusteringSettings>
    {
        public ValidateOptionsResult Validate(string? name, ClusteringSettings s)
        {
            var errors = new List<string>();
            if (string.IsNullOrWhiteSpace(s.ClusterId))
                errors.Add($"{Name(ClusteringSettings.Section, nameof(s.ClusterId))} is empty.");
            if (string.IsNullOrWhiteSpace(s.ServiceId))
                errors.Add($"{Name(ClusteringSettings.Section, nameof(s.ServiceId))} is empty.");
            CheckPort(errors, nameof(s.SiloPort), s.SiloPort);
            CheckPort(errors, nameof(s.GatewayPort), s.GatewayPort);
            if (s.SiloPort == s.GatewayPort)
                errors.Add($"{Name(ClusteringSettings.Section, nameof(s.SiloPort))} and {nameof(s.GatewayPort)} are both {s.SiloPort}; they must differ.");
            if (!System.Net.IPAddress.TryParse(s.AdvertisedAddress, out _))
                errors.Add($"{Name(ClusteringSettings.Section, nameof(s.AdvertisedAddress))} = '{s.AdvertisedAddress}' is not an IP address.");
            if (ClusterTls.Problem(s, out var certificate) is { } tls) errors.Add(tls);
            if (s.ClientConnectTimeout <= TimeSpan.Zero)
                errors.Add($"{Name(ClusteringSettings.Section, nameof(s.ClientConnectTimeout))} = {s.ClientConnectTimeout} must be positive (default 00:01:00).");
            certificate?.Dispose();
            if (s.Kubernetes && s.Mode != ClusteringMode.AzureTable)
                errors.Add($"{Name(ClusteringSettings.Section, nameof(s.Kubernetes))} is true but {nameof(s.Mode)} is {s.Mode}; pods form a cluster only with {nameof(ClusteringMode.AzureTable)} membership.");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }

        private static void CheckPort(List<string> errors, string key, int port)
        {
            if (port is < 1 or > 65535)
                errors.Add($"{Name(ClusteringSettings.Section, key)} = {port} is not a TCP port (1-65535).");
        }
    }

    public sealed class Hangfire : IValidateOptions<HangfireSettings>
    {
        public ValidateOptionsResult Validate(string? name, HangfireSettings s)
        {
            var errors = new List<string>();
            if (s.WorkerCount is < 1 or > 1000)
                errors.Add($"{Name(HangfireSettings.Section, nameof(s.WorkerCount))} = {s.WorkerCount} must be between 1 and 1000.");
            if (!string.IsNullOrWhiteSpace(s.PostgreSqlConnectionString))
            {
                try { _ = new Npgsql.NpgsqlConnectionStringBuilder(s.PostgreSqlConnectionString); }
                catch (ArgumentException e)
                {
                    errors.Add($"{Name(HangfireSettings.Section, nameof(s.PostgreSqlConnectionString))} is not a PostgreSQL connection string: {e.Message}");
                }
            }
            if (string.IsNullOrWhiteSpace(s.Schema))
                errors.Add($"{Name(HangfireSettings.Section, nameof(s.Schema))} is empty.");
            if (s.SchedulePollingInterval < TimeSpan.FromMilliseconds(100))
                errors.Add($"{Name(HangfireSettings.Section, nameof(s.SchedulePollingInterval))} = {s.SchedulePollingInterval} is too short; use at least 00:00:00.1 (default 00:00:15).");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }

    public sealed class Web : IValidateOptions<WebSettings>
    {
        public ValidateOptionsResult Validate(string? name, WebSettings s)
        {
            var errors = new List<string>();
            var urls = (s.Urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (urls.Length == 0)
                errors.Add($"{Name(WebSettings.Section, nameof(s.Urls))} is empty; e.g. http://127.0.0.1:5080.");
            foreach (var url in urls)
            {
                if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                    || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                    errors.Add($"{Name(WebSettings.Section, nameof(s.Urls))} entry '{url}' is not an http(s) URL.");
            }
            try
            {
                s.TrustedProxyAddresses();
            }
            catch (FormatException e)
            {
                errors.Add($"{Name(WebSettings.Section, nameof(s.TrustedProxies))}: {e.Message} List the proxies' addresses, e.g. 127.0.0.1;10.0.0.5.");
            }
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }

    public sealed class Training : IValidateOptions<TrainingSettings>
    {
        public ValidateOptionsResult Validate(string? name, TrainingSettings s)
        {
            var errors = new List<string>();
            if (!Platform.Model.Devices.DeviceSelection.TryParse(s.Devices, out _, out var problem))
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.Devices))} = '{s.Devices}' {problem}");
            if (string.IsNullOrWhiteSpace(s.CheckpointRoot))
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.CheckpointRoot))} is empty; name a folder every silo can reach (default: checkpoints, under .state/).");
            if (string.IsNullOrWhiteSpace(s.BenchmarkData))
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.BenchmarkData))} is empty; name a folder every silo can reach (default: benchmark, under .state/).");
            if (s.LeaseTimeout <= TimeSpan.Zero)
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.LeaseTimeout))} = {s.LeaseTimeout} must be positive (default 00:01:00).");
            if (s.StallTimeout < TimeSpan.Zero)
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.StallTimeout))} = {s.StallTimeout} is negative; use 00:00:00 to turn the stall check off (default 00:10:00).");
            if (s.MaxFailures < 1)
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.MaxFailures))} = {s.MaxFailures} must be at least 1.");
            if (s.CheckInterval <= TimeSpan.Zero)
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.CheckInterval))} = {s.CheckInterval} must be positive (default 00:00:05).");
            if (s.HistoryRecentSteps < 1)
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.HistoryRecentSteps))} = {s.HistoryRecentSteps} must be at least 1.");
            if (s.HistoryOlderPoints < 0)
                errors.Add($"{Name(TrainingSettings.Section, nameof(s.HistoryOlderPoints))} = {s.HistoryOlderPoints} must not be negative.");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }

    public sealed class IngestWatch : IValidateOptions<IngestWatchSettings>
    {
        public ValidateOptionsResult Validate(string? name, IngestWatchSettings s)
        {
            var errors = new List<string>();
            if (string.IsNullOrWhiteSpace(s.WorkDirectory))
                errors.Add($"{Name(IngestWatchSettings.Section, nameof(s.WorkDirectory))} is empty.");
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < s.Folders.Count; i++)
            {
                var folder = s.Folders[i];
                string Key(string property) => Name(IngestWatchSettings.Section, $"Folders:{i}:{property}")
                    .Replace($"__Folders:{i}:", $"__Folders__{i}__", StringComparison.Ordinal);
                if (string.IsNullOrWhiteSpace(folder.Path))
                {
                    errors.Add($"{Key(nameof(folder.Path))} is empty; name the folder to watch.");
                    continue;
                }
                if (folder.IsBlobContainer && !Uri.TryCreate(folder.Path, UriKind.Absolute, out _))
                    errors.Add($"{Key(nameof(folder.Path))} = '{folder.Path}' is not a blob container URL; e.g. https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX.");
                var watchName = folder.EffectiveName;
                if (watchName.Length == 0 || !watchName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                    errors.Add($"{Key(nameof(folder.Name))} = '{watchName}' must be ASCII letters, digits, '-', '_' or '.'; set a name for this folder.");
                else if (!names.Add(watchName))
                    errors.Add($"{Key(nameof(folder.Name))} = '{watchName}' names two watched folders; give each its own name.");
                if (folder.Patterns.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Length == 0)
                    errors.Add($"{Key(nameof(folder.Patterns))} is empty; e.g. *.warc.gz.");
                if (folder.Cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length is not (5 or 6))
                    errors.Add($"{Key(nameof(folder.Cron))} = '{folder.Cron}' is not a cron expression of 5 fields (or 6, seconds first).");
                if (folder.SettleTime < TimeSpan.Zero)
                    errors.Add($"{Key(nameof(folder.SettleTime))} = {folder.SettleTime} is negative.");
            }
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
