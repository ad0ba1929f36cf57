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

    /// <summary>A new file's name is durable only once its folder is flushed.</summary>
    private static void FlushFolder(string path)
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
