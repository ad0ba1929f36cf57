using Platform.Ingestion.Shards;

namespace Platform.Ingestion.Fetching;

/// <summary>Where image payloads come from: HTTP, or bytes the candidate already carries.</summary>
public interface IImageSource
{
    Task<FetchResult> FetchAsync(ImageCandidate candidate, CancellationToken cancellationToken);
}

/// <summary>A payload, or why none was obtained (a stable snake_case reason code plus a human detail).</summary>
public readonly record struct FetchResult(byte[]? Payload, string? FailureReason, string? Detail)
{
    public static FetchResult Success(byte[] payload) => new(payload, null, null);

    public static FetchResult Failure(string reason, string detail) => new(null, reason, detail);
}

/// <summary>Serves the bytes embedded in each candidate; never touches the network.</summary>
public sealed class EmbeddedImageSource : IImageSource
{
    public Task<FetchResult> FetchAsync(ImageCandidate candidate, CancellationToken cancellationToken) =>
        Task.FromResult(candidate.EmbeddedBytes is { } bytes
            ? FetchResult.Success(bytes)
            : FetchResult.Failure("no_payload", "candidate carries no embedded bytes"));
}
