using System.Text;
using System.Text.Json;

namespace Platform.Silo.Hosting;

/// <summary>
/// A JSON-lines file whose appends are on disk (fsynced, and the file's name with them) when <see cref="AppendAsync{T}"/>
/// returns: what the embedded default's journals rest on.
/// </summary>
public sealed class JournalFile(string folder, string fileName)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly SemaphoreSlim appending = new(1, 1);

    public string Path { get; } = System.IO.Path.Combine(folder, fileName);

    /// <summary>Appends one line per entry with one write and one flush, and returns once they are on disk.</summary>
    public async Task AppendAsync<T>(IEnumerable<T> entries, CancellationToken cancellationToken)
    {
        var lines = new StringBuilder();
        foreach (var entry in entries) lines.Append(JsonSerializer.Serialize(entry, Json)).Append('\n');
        if (lines.Length == 0) return;
        await appending.WaitAsync(cancellationToken);
        try
        {
            var created = !File.Exists(Path);
            Directory.CreateDirectory(folder);
            await using (var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read))
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(lines.ToString()), cancellationToken);
                stream.Flush(flushToDisk: true);
            }
            if (created) FlushFolder(folder);
        }
        finally
        {
            appending.Release();
        }
    }

    /// <summary>Where <see cref="RewriteAsync{T}"/> writes the new contents before they take the journal's name.</summary>
    public string RewritePath => Path + ".rewrite";

    /// <summary>
    /// Replaces the journal by <paramref name="keep"/> of its entries, atomically: the new contents go to <see cref="RewritePath"/>,
    /// are flushed, take the journal's name by a rename, and the folder is flushed. A crash at any step leaves either the whole old
    /// journal or the whole new one (a leftover temporary file is never read, and the next rewrite writes over it). Appends wait
    /// meanwhile, so none is lost between the read and the rename.
    /// </summary>
    public async Task RewriteAsync<T>(Func<IEnumerable<T>, IEnumerable<T>> keep, CancellationToken cancellationToken) where T : class
    {
        await appending.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(Path)) return;
            var lines = new StringBuilder();
            foreach (var entry in keep(Read<T>().ToList())) lines.Append(JsonSerializer.Serialize(entry, Json)).Append('\n');
            await using (var stream = new FileStream(RewritePath, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(lines.ToString()), cancellationToken);
                stream.Flush(flushToDisk: true);
            }
            File.Move(RewritePath, Path, overwrite: true);
            FlushFolder(folder);
        }
        finally
        {
            appending.Release();
        }
    }

    /// <summary>The last entry appended for each key, in the order the keys first came; entries without a key are skipped.</summary>
    public IReadOnlyList<T> ReadLatest<T>(Func<T, string?> key) where T : class
    {
        var latest = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var entry in Read<T>())
            if (key(entry) is { Length: > 0 } name) latest[name] = entry;
        return [.. latest.Values];
    }

    /// <summary>The entries in the order they were appended; a line cut short by a crash (never acknowledged) is skipped.</summary>
    public IEnumerable<T> Read<T>() where T : class
    {
        if (!File.Exists(Path)) yield break;
        foreach (var line in File.ReadLines(Path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            T? entry;
            try { entry = JsonSerializer.Deserialize<T>(line, Json); }
            catch (JsonException) { continue; }
            if (entry is not null) yield return entry;
        }
    }

    /// <summary>A new, renamed or deleted file's name is durable only once its folder is flushed.</summary>
    public static void FlushFolder(string path)
    {
        try
        {
            Platform.Datasets.DurableFiles.SyncDirectory(path);
        }
        catch (IOException)
        {
            // Some file systems refuse to open a folder; the file's own flush still holds its contents.
        }
    }
}
