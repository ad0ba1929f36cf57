namespace Platform.Ingestion.Fetching;

/// <summary>Reason codes for failed downloads, as they appear in stats and parquet.</summary>
public static class FetchReasons
{
    public const string InvalidUrl = "invalid_url";
    public const string RobotsDisallowed = "robots_disallowed";
    public const string OptedOut = "x_robots_tag_opt_out";
    public const string BlockedAddress = "blocked_address";
    public const string Timeout = "timeout";
    public const string CircuitOpen = "circuit_open";
    public const string TooManyRedirects = "too_many_redirects";
    public const string TooLarge = "too_large";
    public const string WrongContentType = "wrong_content_type";
    public const string NetworkError = "network_error";

    /// <summary>A final HTTP status other than 2xx, e.g. <c>http_404</c>.</summary>
    public static string HttpStatus(int status) => $"http_{status}";
}
