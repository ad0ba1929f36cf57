using System.Net;
using System.Net.Sockets;

namespace Platform.Ingestion.Fetching;

/// <summary>
/// What every HTTP client of ours that fetches URLs found on the web shares: connections only to
/// addresses the <see cref="AddressPolicy"/> allows, checked after resolution, the reading of
/// X-Robots-Tag opt-outs, and bodies read within a size limit.
/// </summary>
public static class GuardedHttp
{
    /// <summary>
    /// A handler that follows no redirects (callers follow them hop by hop, so each hop is counted and
    /// checked against robots.txt), uses no proxy (a proxy would connect on our behalf and bypass the
    /// address check) and connects only to allowed addresses.
    /// </summary>
    /// <param name="decompress">Decode gzip/deflate/br bodies; off when the raw bytes are archived as received.</param>
    public static SocketsHttpHandler CreateHandler(AddressPolicy policy, IHostResolver resolver, bool decompress) => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        AutomaticDecompression = decompress ? DecompressionMethods.All : DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectCallback = (context, ct) => ConnectAsync(context, resolver, policy, ct),
    };

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, IHostResolver resolver,
        AddressPolicy policy, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await resolver.ResolveAsync(host, cancellationToken);
        var allowed = addresses.Where(policy.IsAllowed).ToArray();
        if (allowed.Length == 0) throw new BlockedAddressException(host, addresses);

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // The socket connects only to addresses that passed the check: no second lookup can swap them.
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The refusal of the address policy somewhere in an exception chain, if that is what failed.</summary>
    public static BlockedAddressException? FindBlocked(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
            if (e is BlockedAddressException blocked) return blocked;
        return null;
    }

    /// <summary>
    /// X-Robots-Tag directives that stop an image being used (img2dataset's default set, plus "none", which
    /// means noindex and nofollow together, as the HTML robots meta reading already treats it).
    /// </summary>
    public static IReadOnlyList<string> DefaultOptOutDirectives { get; } = ["noai", "noimageai", "noindex", "noimageindex", "none"];

    /// <summary>
    /// The first opt-out directive in X-Robots-Tag that applies to us. A value may be scoped to one crawler
    /// ("otherbot: noindex"); unscoped values apply to every crawler.
    /// </summary>
    public static string? OptOutDirective(HttpResponseMessage response, string productToken, IReadOnlyList<string> optOutDirectives)
    {
        if (!response.Headers.TryGetValues("X-Robots-Tag", out var values)) return null;
        foreach (var value in values)
        {
            var directives = value;
            var colon = value.IndexOf(':');
            if (colon > 0)
            {
                var agent = value[..colon].Trim();
                var known = agent.Equals(productToken, StringComparison.OrdinalIgnoreCase) || agent == "*";
                // "unavailable_after: date" is a directive, not a crawler name.
                var looksLikeAgent = !agent.Contains(' ') && !agent.Equals("unavailable_after", StringComparison.OrdinalIgnoreCase);
                if (looksLikeAgent && !known) continue;
                if (looksLikeAgent) directives = value[(colon + 1)..];
            }
            foreach (var directive in directives.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                if (optOutDirectives.Contains(directive, StringComparer.OrdinalIgnoreCase)) return directive.ToLowerInvariant();
        }
        return null;
    }

    /// <summary>The whole body, or null once it passes <paramref name="maxBytes"/> (a missing or lying Content-Length cannot make us hold more).</summary>
    public static async Task<byte[]?> ReadLimitedAsync(HttpContent content, long maxBytes, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
