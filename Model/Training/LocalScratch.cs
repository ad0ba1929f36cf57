namespace Platform.Model.Training;

/// <summary>
/// Folders of this machine alone for a run's temporary files: checkpoints before their upload to a blob container, states on
/// their way to or from a multi-trainer run's exchange. Never a folder another silo must see; each user deletes its own.
/// </summary>
public static class LocalScratch
{
    /// <summary>A folder under the system's temporary folder, <c>KIND/RUN/NAME</c>, the run id made safe as a folder name.</summary>
    public static string Folder(string kind, string runId, string name) =>
        Path.Combine(Path.GetTempPath(), kind, string.Concat(runId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')), name);

    public static void TryDelete(string folder)
    {
        try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
