using Azure;
using Azure.Core;
using Azure.Storage.Blobs;

namespace Platform.Silo.Cli;

/// <summary>
/// Storage as a command run by a person reaches it: a storage account that is not there should be said in seconds, in one
/// line, not after the SDK's default six retries with exponential back-off (half a minute) as an aggregate of stack traces.
/// </summary>
internal static class CommandLineStorage
{
    public static BlobClientOptions ClientOptions() => new()
    {
        Retry = { MaxRetries = 2, Mode = RetryMode.Fixed, Delay = TimeSpan.FromMilliseconds(500), NetworkTimeout = TimeSpan.FromSeconds(30) },
    };

    /// <summary>
    /// Whether <paramref name="e"/> says no storage answered at all (nothing listening, a name that does not resolve, a
    /// timeout), as opposed to an answer the caller must handle; <paramref name="why"/> is the innermost cause's message.
    /// </summary>
    public static bool IsUnreachable(Exception e, out string why)
    {
        var failures = e is AggregateException aggregate ? aggregate.InnerExceptions : [e];
        // Status 0: the request never got an HTTP response.
        if (failures.Count > 0 && failures.All(f => f is RequestFailedException { Status: 0 } or HttpRequestException or TimeoutException))
        {
            Exception innermost = failures[^1];
            while (innermost.InnerException is not null) innermost = innermost.InnerException;
            why = innermost.Message;
            return true;
        }
        why = "";
        return false;
    }
}
