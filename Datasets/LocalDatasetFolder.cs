using System.Runtime.InteropServices;

namespace Platform.Datasets;

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

    public Stream OpenRead(string name) =>
        new FileStream(FinalPath(name), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);

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
        var final = FinalPath(name);
        File.Move(PartialPath(name), final, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(final)!);
    }

    /// <summary>
    /// Makes the rename itself durable. Without it a power loss may keep a later rename (the stats marker)
    /// and lose an earlier one (the tar), leaving a committed shard without its data. .NET cannot open a
    /// directory as a file, so this goes to libc on Linux and macOS; Windows renames are journaled by NTFS.
    /// </summary>
    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        var fd = Posix.Open(directory, 0 /* O_RDONLY */);
        if (fd < 0) throw new IOException($"cannot open {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Posix.FSync(fd) != 0) throw new IOException($"fsync of {directory} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            Posix.Close(fd);
        }
    }

    private static class Posix
    {
        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        public static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static extern int FSync(int fd);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        public static extern int Close(int fd);
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
