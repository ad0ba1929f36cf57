namespace Platform.Datasets;

/// <summary>
/// Where a dataset's files live (local folder, blob container); also what a multi-trainer run's replicas exchange through. A file written through
/// <see cref="OpenPartial"/> becomes visible under its name only when <see cref="PublishAsync"/> succeeds,
/// complete and durable; readers never see a partial file. Names use '/' as separator.
/// </summary>
public interface IDatasetStore
{
    /// <summary>Describes the store in messages (a folder path or a container URI).</summary>
    string Location { get; }

    /// <summary>Names of published files starting with <paramref name="prefix"/>.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>A published file's content, or null when it does not exist.</summary>
    Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Streams a published file without reading it whole first (a shard may be gigabytes); throws
    /// <see cref="FileNotFoundException"/> when it does not exist. Synchronous, as its reader is: the training
    /// loop enumerates shard samples on a thread of its own.
    /// </summary>
    Stream OpenRead(string name);

    Stream OpenPartial(string name);

    /// <summary>Makes the partial file visible under <paramref name="name"/> and disposes the stream.</summary>
    Task PublishAsync(Stream partial, string name, CancellationToken cancellationToken);

    /// <summary>Removes leftovers of interrupted writes, where the store keeps any.</summary>
    Task RemovePartialsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Deletes every published file whose name starts with <paramref name="prefix"/>; a prefix ending in '/' names a folder,
    /// which goes whole, with the leftovers of interrupted writes in it. Nothing to delete is no error.
    /// </summary>
    Task DeleteAsync(string prefix, CancellationToken cancellationToken);
}
