namespace Platform.Ingestion.Images;

/// <summary>Why an image was not stored. Each value has a stable snake_case code used in stats and parquet.</summary>
public enum ImageRejection
{
    EmptyPayload,
    TooFewBytes,
    TooManyBytes,
    UnrecognisedFormat,
    UnsupportedFormat,
    DecompressionBomb,
    TooSmall,
    AspectRatio,
    Truncated,
    DecodeFailed,
    EncodeFailed,
}

public static class ImageRejectionCodes
{
    public static string Code(this ImageRejection rejection) => rejection switch
    {
        ImageRejection.EmptyPayload => "empty_payload",
        ImageRejection.TooFewBytes => "too_few_bytes",
        ImageRejection.TooManyBytes => "too_many_bytes",
        ImageRejection.UnrecognisedFormat => "unrecognised_format",
        ImageRejection.UnsupportedFormat => "unsupported_format",
        ImageRejection.DecompressionBomb => "decompression_bomb",
        ImageRejection.TooSmall => "too_small",
        ImageRejection.AspectRatio => "aspect_ratio",
        ImageRejection.Truncated => "truncated",
        ImageRejection.DecodeFailed => "decode_failed",
        ImageRejection.EncodeFailed => "encode_failed",
        _ => throw new ArgumentOutOfRangeException(nameof(rejection), rejection, null),
    };
}
