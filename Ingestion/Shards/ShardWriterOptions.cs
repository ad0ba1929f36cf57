namespace Platform.Ingestion.Shards;

/// <summary>How samples are grouped into shards and how many are worked on at once.</summary>
public sealed record ShardWriterOptions
{
    /// <summary>Attempted samples per shard (img2dataset: 10,000). Successes per shard are fewer.</summary>
    public int SamplesPerShard { get; init; } = 10_000;

    /// <summary>Downloads and decodes in flight at once.</summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Samples fetched and decoded before they are written, as a multiple of <see cref="MaxParallelism"/>.
    /// Bounds memory to a window of images rather than a whole shard.
    /// </summary>
    public int WindowPerWorker { get; init; } = 4;
}
