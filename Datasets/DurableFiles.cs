using System.Runtime.InteropServices;

namespace Platform.Datasets;

/// <summary>
/// Renames that survive a power loss. A rename is durable only once its directory is synced, and the renamed file only once
/// its own data was flushed before the rename: otherwise the file system may keep a later rename (a stats marker, a
/// "latest" pointer) and lose an earlier one, or keep the name and lose the data behind it.
/// </summary>
public static class DurableFiles
{
    /// <summary>Flushes a closed file's data to disk (for files written by code that does not hand out its stream).</summary>
    public static void FlushToDisk(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        file.Flush(flushToDisk: true);
    }

    /// <summary>Flushes <paramref name="source"/> to disk, renames it and syncs the destination's directory.</summary>
    public static void Move(string source, string destination, bool overwrite)
    {
        FlushToDisk(source);
        File.Move(source, destination, overwrite);
        SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
    }

    /// <summary>
    /// Flushes every file under <paramref name="source"/> and the folder itself, renames it to <paramref name="destination"/>
    /// (which must not exist) and syncs the parent directory.
    /// </summary>
    public static void MoveDirectory(string source, string destination)
    {
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories)) FlushToDisk(file);
        SyncDirectory(source);
        Directory.Move(source, destination);
        SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
    }

    /// <summary>
    /// Makes the renames and creations in a directory durable. .NET cannot open a directory as a file, so this goes to libc
    /// on Linux and macOS; Windows renames are journaled by NTFS and need nothing more.
    /// </summary>
    public static void SyncDirectory(string directory)
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
}
