namespace Platform.Ingestion.Shards;

/// <summary>
/// A dataset in a local folder. Files are written under hidden <c>.NAME.partial</c> names, flushed to disk and
/// renamed into place, so a visible file is always complete.
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

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([.. Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)
            .Where(path => !Path.GetFileName(path).EndsWith(PartialSuffix, StringComparison.Ordinal))
            .Select(path => Path.GetRelativePath(Root, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)]);

    public async Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        var path = FinalPath(name);
        return File.Exists(path) ? await File.ReadAllBytesAsync(path, cancellationToken) : null;
    }

    public Stream OpenPartial(string name)
    {
        var path = PartialPath(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16, FileOptions.Asynchronous);
    }

    /// <summary>Flushes the partial file to disk, closes it and renames it to its final name.</summary>
    public async Task PublishAsync(Stream partial, string name, CancellationToken cancellationToken)
    {
        await partial.FlushAsync(cancellationToken);
        if (partial is FileStream file) file.Flush(flushToDisk: true);
        await partial.DisposeAsync();
        File.Move(PartialPath(name), FinalPath(name), overwrite: true);
    }

    /// <summary>Leftovers of interrupted writes; they are never read and would be overwritten anyway.</summary>
    public Task RemovePartialsAsync(CancellationToken cancellationToken)
    {
        foreach (var partial in Directory.EnumerateFiles(Root, "*" + PartialSuffix, SearchOption.AllDirectories)) File.Delete(partial);
        return Task.CompletedTask;
    }

    private string FinalPath(string name) => Path.Combine(Root, name.Replace('/', Path.DirectorySeparatorChar));

    private string PartialPath(string name)
    {
        var final = FinalPath(name);
        return Path.Combine(Path.GetDirectoryName(final)!, "." + Path.GetFileName(final) + PartialSuffix);
    }
}
