using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Datasets;

/// <summary>
/// Counts per status and per reason for one shard. Its file is written last and is the shard's commit
/// marker; it holds no timings so a redone shard reproduces it byte for byte.
/// </summary>
public sealed class ShardStats
{
    [JsonPropertyName("shard")] public string Shard { get; set; } = "";
    [JsonPropertyName("attempted")] public int Attempted { get; set; }
    [JsonPropertyName("successes")] public int Successes { get; set; }
    [JsonPropertyName("status_counts")] public SortedDictionary<string, int> StatusCounts { get; set; } = new(StringComparer.Ordinal);
    [JsonPropertyName("reason_counts")] public SortedDictionary<string, int> ReasonCounts { get; set; } = new(StringComparer.Ordinal);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public void Count(SampleRecord sample)
    {
        Attempted++;
        if (sample.Status == SampleStatus.Success) Successes++;
        StatusCounts[sample.Status] = StatusCounts.GetValueOrDefault(sample.Status) + 1;
        if (sample.ErrorMessage is { } reason) ReasonCounts[reason] = ReasonCounts.GetValueOrDefault(reason) + 1;
    }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static ShardStats FromJson(byte[] json) =>
        JsonSerializer.Deserialize<ShardStats>(json, Json) ?? throw new InvalidDataException("empty stats file");
}
