using System.Formats.Tar;
using System.Text;
using System.Text.Json;

namespace Platform.Datasets;

/// <summary>
/// Writes one WebDataset tar: per sample <c>{key}.jpg</c>, <c>{key}.txt</c>, <c>{key}.json</c>, in sample
/// order, as ustar entries with fixed owner, mode and timestamp so the same samples give the same bytes.
/// </summary>
public sealed class WebDatasetShardWriter(Stream destination) : IAsyncDisposable
{
    /// <summary>Timestamp of every entry: a constant keeps reruns byte-identical.</summary>
    public static readonly DateTimeOffset EntryTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private const UnixFileMode EntryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly TarWriter _tar = new(destination, TarEntryFormat.Ustar, leaveOpen: true);

    public async Task WriteSampleAsync(SampleRecord sample, byte[] jpeg, CancellationToken cancellationToken)
    {
        await WriteEntryAsync($"{sample.Key}.jpg", jpeg, cancellationToken);
        await WriteEntryAsync($"{sample.Key}.txt", Encoding.UTF8.GetBytes(sample.Caption), cancellationToken);
        await WriteEntryAsync($"{sample.Key}.json", JsonSerializer.SerializeToUtf8Bytes(sample), cancellationToken);
    }

    private async Task WriteEntryAsync(string name, byte[] content, CancellationToken cancellationToken)
    {
        using var data = new MemoryStream(content, writable: false);
        var entry = new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = data,
            ModificationTime = EntryTime,
            Mode = EntryMode,
            Uid = 0,
            Gid = 0,
            UserName = "",
            GroupName = "",
        };
        await _tar.WriteEntryAsync(entry, cancellationToken);
    }

    public ValueTask DisposeAsync() => _tar.DisposeAsync();
}
