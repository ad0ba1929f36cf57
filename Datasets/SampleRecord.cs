using System.Text.Json.Serialization;

namespace Platform.Datasets;

/// <summary>One attempted sample: a row of the shard's parquet (img2dataset's columns plus sha256 and phash).</summary>
public sealed class SampleRecord
{
    [JsonPropertyName("url")] public string Url { get; set; } = "";
    [JsonPropertyName("caption")] public string Caption { get; set; } = "";
    [JsonPropertyName("key")] public string Key { get; set; } = "";
    /// <summary>One of <see cref="SampleStatus"/>.</summary>
    [JsonPropertyName("status")] public string Status { get; set; } = "";
    /// <summary>Reason code of a failure or drop; null on success.</summary>
    [JsonPropertyName("error_message")] public string? ErrorMessage { get; set; }
    [JsonPropertyName("width")] public int? Width { get; set; }
    [JsonPropertyName("height")] public int? Height { get; set; }
    [JsonPropertyName("original_width")] public int? OriginalWidth { get; set; }
    [JsonPropertyName("original_height")] public int? OriginalHeight { get; set; }
    [JsonPropertyName("sha256")] public string? Sha256 { get; set; }
    /// <summary>64-bit DCT pHash as 16 lower-case hex digits.</summary>
    [JsonPropertyName("phash")] public string? Phash { get; set; }
}

/// <summary>Sample statuses in parquet and stats.</summary>
public static class SampleStatus
{
    public const string Success = "success";
    public const string FailedToDownload = "failed_to_download";
    /// <summary>Downloaded but refused by the image checks (decode failure, size, format...).</summary>
    public const string Rejected = "rejected";
    public const string Duplicate = "duplicate";
}
