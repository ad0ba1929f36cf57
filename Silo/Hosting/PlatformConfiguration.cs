using Microsoft.Extensions.Options;
using Platform.Model.Devices;
using Platform.Silo.Storage;

namespace Platform.Silo.Hosting;

/// <summary>
/// The host's settings read and validated once, before anything starts, because Orleans and
/// Hangfire are configured from their values. Every problem is reported at once, naming the setting.
/// </summary>
public sealed record PlatformConfiguration(
    StorageSettings Storage,
    StorageConnection StorageConnection,
    ClusteringSettings Clustering,
    HangfireSettings Hangfire,
    WebSettings Web,
    IngestWatchSettings IngestWatch,
    TrainingSettings Training)
{
    public const string EnvironmentPrefix = "PLATFORM_";

    public static PlatformConfiguration Load(IConfiguration configuration)
    {
        var storage = Bind<StorageSettings>(configuration, StorageSettings.Section);
        var clustering = Bind<ClusteringSettings>(configuration, ClusteringSettings.Section);
        var hangfire = Bind<HangfireSettings>(configuration, HangfireSettings.Section);
        var web = Bind<WebSettings>(configuration, WebSettings.Section);
        var watch = Bind<IngestWatchSettings>(configuration, IngestWatchSettings.Section);
        var training = Bind<TrainingSettings>(configuration, TrainingSettings.Section);

        var failures = new List<string>();
        Collect(failures, new SettingsValidation.Storage().Validate(null, storage));
        Collect(failures, new SettingsValidation.Clustering().Validate(null, clustering));
        Collect(failures, new SettingsValidation.Hangfire().Validate(null, hangfire));
        Collect(failures, new SettingsValidation.Web().Validate(null, web));
        Collect(failures, new SettingsValidation.IngestWatch().Validate(null, watch));
        Collect(failures, new SettingsValidation.Training().Validate(null, training));
        if (failures.Count > 0) throw new PlatformConfigurationException(failures);

        return new PlatformConfiguration(storage, StorageConnection.Parse(storage.ConnectionString), clustering, hangfire, web, watch, training);
    }

    /// <summary>Configuration sources in precedence order: appsettings.json beside the program, then `PLATFORM_*` environment variables, then the caller's overrides.</summary>
    public static void AddSources(IConfigurationBuilder builder) =>
        builder.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false)
            .AddEnvironmentVariables(EnvironmentPrefix);

    private static T Bind<T>(IConfiguration configuration, string section) where T : new()
    {
        var settings = new T();
        try
        {
            configuration.GetSection(section).Bind(settings);
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key and the value it could not convert.
            throw new PlatformConfigurationException([$"{section}: {e.Message} {e.InnerException?.Message}".Trim()]);
        }
        return settings;
    }

    private static void Collect(List<string> failures, ValidateOptionsResult result)
    {
        if (result.Failed) failures.AddRange(result.Failures);
    }

    /// <summary>
    /// The devices this silo advertises: `Training:Devices` applied to what this machine has. Detecting CUDA
    /// loads libtorch, so it happens once, when the silo is built.
    /// </summary>
    /// <param name="detectionProblem">Why libtorch could not be asked for CUDA devices, when it could not.</param>
    public IReadOnlyList<TrainingDevice> ResolveTrainingDevices(out string? detectionProblem)
    {
        DeviceSelection.TryParse(Training.Devices, out var selection, out _);
        detectionProblem = null;
        var cuda = selection.NeedsCudaDetection ? DeviceDetection.DetectCuda(out detectionProblem) : [];
        try
        {
            return selection.Resolve(cuda, DeviceDetection.CpuSlot);
        }
        catch (InvalidOperationException e)
        {
            throw new PlatformConfigurationException([
                $"{SettingsValidation.Name(TrainingSettings.Section, nameof(TrainingSettings.Devices))} = '{Training.Devices}' {e.Message}"
                + (detectionProblem is null ? "" : $" ({detectionProblem})"),
            ]);
        }
    }

    /// <summary>Where Azurite keeps its data: an absolute setting as given; a relative one under the repository's git-ignored `.state/`.</summary>
    public string EmulatorDataPath() =>
        Path.IsPathRooted(Storage.EmulatorDataDirectory)
            ? Storage.EmulatorDataDirectory
            : Path.Combine(StateRoot(), Storage.EmulatorDataDirectory);

    /// <summary>Where watch-started ingest jobs write: an absolute setting as given; a relative one under `.state/`.</summary>
    public string IngestWatchWorkPath() =>
        Path.IsPathRooted(IngestWatch.WorkDirectory) ? IngestWatch.WorkDirectory : Path.Combine(StateRoot(), IngestWatch.WorkDirectory);

    /// <summary>
    /// The `Training:*` settings as the scheduler and run grains take them (<see cref="Platform.Grains.Training.TrainingClusterOptions"/>),
    /// a relative checkpoint root or benchmark folder under `.state/`.
    /// </summary>
    public void ApplyTrainingSettings(Platform.Grains.Training.TrainingClusterOptions options)
    {
        options.CheckpointRoot = Path.IsPathRooted(Training.CheckpointRoot) ? Training.CheckpointRoot : Path.Combine(StateRoot(), Training.CheckpointRoot);
        options.BenchmarkData = Path.IsPathRooted(Training.BenchmarkData) ? Training.BenchmarkData : Path.Combine(StateRoot(), Training.BenchmarkData);
        options.LeaseTimeout = Training.LeaseTimeout;
        options.StallTimeout = Training.StallTimeout;
        options.MaxFailures = Training.MaxFailures;
        options.CheckInterval = Training.CheckInterval;
        options.HistoryRecentSteps = Training.HistoryRecentSteps;
        options.HistoryOlderPoints = Training.HistoryOlderPoints;
    }

    /// <summary>The folders the HTTP API may read and write local paths under (<see cref="WebSettings.ApiRoots"/>), full paths.</summary>
    public IReadOnlyList<string> ApiRoots()
    {
        var configured = (Web.ApiRoots ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        IEnumerable<string> roots = configured.Length > 0
            ? configured.Select(r => Path.IsPathRooted(r) ? r : Path.Combine(StateRoot(), r))
            : [StateRoot(), Path.GetTempPath(), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)];
        return [.. roots.Where(r => r.Length > 0).Select(r => Path.TrimEndingDirectorySeparator(Path.GetFullPath(r))).Distinct()];
    }

    /// <summary>`.state/` at the repository root when the program runs from a checkout, else beside the working directory.</summary>
    public static string StateRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
                    return Path.Combine(dir.FullName, ".state");
            }
        }
        return Path.Combine(Environment.CurrentDirectory, ".state");
    }
}

public sealed class PlatformConfigurationException(IReadOnlyList<string> problems)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
