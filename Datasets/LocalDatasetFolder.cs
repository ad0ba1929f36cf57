namespace Platform.Datasets;

/// <summary>
/// A dataset in a local folder. Files are written under hidden <c>.NAME.WRITER.partial</c> names, one per writer (so a
/// stale writer of an earlier attempt and its successor never write into one file), flushed to disk and renamed into
/// place with the directory synced, so a visible file is always complete and stays visible after a power loss.
/// </summary>
public sealed class LocalDatasetFolder : IDatasetStore
{
    private const string PartialSuffix = ".partial";

    public LocalDatasetFolder(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Location => Root;

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken) => Task.FromResult(Published(prefix));

    private IReadOnlyList<string> Published(string prefix)
    {
        // Only the prefix's own folder is walked: other writers may be deleting folders elsewhere meanwhile.
        var folder = prefix.Contains('/') ? FinalPath(prefix[..prefix.LastIndexOf('/')]) : Root;
        if (!Directory.Exists(folder)) return [];
        return [.. Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(path => !Path.GetFileName(path).EndsWith(PartialSuffix, StringComparison.Ordinal))
            .Select(path => Path.GetRelativePath(Root, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
    }

    public async Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        var path = FinalPath(name);
        return File.Exists(path) ? await File.ReadAllBytesAsync(path, cancellationToken) : null;
    }

    public Stream OpenRead(string name) =>
        new FileStream(FinalPath(name), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);

    public Stream OpenPartial(string name)
    {
        var final = FinalPath(name);
        var path = Path.Combine(Path.GetDirectoryName(final)!, $".{Path.GetFileName(final)}.{Guid.NewGuid():N}{PartialSuffix}");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16, FileOptions.Asynchronous);
    }

    /// <summary>Flushes the partial file to disk, closes it and renames it to its final name.</summary>
    public async Task PublishAsync(Stream partial, string name, CancellationToken cancellationToken)
    {
        if (partial is not FileStream file) throw new ArgumentException($"{nameof(PublishAsync)} takes a stream from {nameof(OpenPartial)}.", nameof(partial));
        await file.FlushAsync(cancellationToken);
        file.Flush(flushToDisk: true);
        var path = file.Name;
        await file.DisposeAsync();
        File.Move(path, FinalPath(name), overwrite: true);
        DurableFiles.SyncDirectory(Path.GetDirectoryName(FinalPath(name))!);
    }

    /// <summary>Leftovers of interrupted writes; they are never read.</summary>
    public Task RemovePartialsAsync(CancellationToken cancellationToken)
    {
        foreach (var partial in Directory.EnumerateFiles(Root, "*" + PartialSuffix, SearchOption.AllDirectories)) File.Delete(partial);
        return Task.CompletedTask;
    }

    public Task DeleteAsync(string prefix, CancellationToken cancellationToken)
    {
        if (prefix.EndsWith('/'))
        {
            var folder = FinalPath(prefix.TrimEnd('/'));
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            return Task.CompletedTask;
        }
        foreach (var name in Published(prefix)) File.Delete(FinalPath(name));
        return Task.CompletedTask;
    }

    private string FinalPath(string name) => Path.Combine(Root, name.Replace('/', Path.DirectorySeparatorChar));
}
