using System.Net;
using System.Net.Sockets;

namespace Platform.Ingestion.Fetching;

/// <summary>
/// Which resolved addresses the downloader may connect to. Web URLs come from untrusted pages, so by
/// default only public unicast addresses are allowed (server-side request forgery guard).
/// </summary>
public sealed class AddressPolicy(bool allowLoopback, bool allowPrivateNetworks)
{
    public bool IsAllowed(IPAddress address)
    {
        address = EmbeddedIPv4(address) ?? address;
        if (IPAddress.IsLoopback(address)) return allowLoopback;
        if (IsUnspecifiedOrMulticast(address)) return false;
        return allowPrivateNetworks || !IsNonPublic(address);
    }

    /// <summary>
    /// The IPv4 address an IPv6 form carries and routes to (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
    /// ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002:AABB:CCDD::/48): those forms reach the IPv4 host, so they
    /// are judged as that host, or a page could name 10.0.0.1 as 64:ff9b::a00:1 and pass.
    /// </summary>
    public static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return null;
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        var b = address.GetAddressBytes();
        if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0)
            // :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
            return b.AsSpan(12).IndexOfAnyExcept((byte)0) < 0 || address.Equals(IPAddress.IPv6Loopback) ? null : new IPAddress(b.AsSpan(12));
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)
            return new IPAddress(b.AsSpan(12));
        if (b[0] == 0x20 && b[1] == 0x02) return new IPAddress(b.AsSpan(2, 4));
        return null;
    }

    private static bool IsUnspecifiedOrMulticast(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
            return address.Equals(IPAddress.IPv6None) || address.IsIPv6Multicast;
        var b = address.GetAddressBytes();
        return b[0] == 0 || b[0] >= 224; // 0.0.0.0/8, multicast 224/4, reserved 240/4 and broadcast
    }

    private static bool IsNonPublic(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var v6 = address.GetAddressBytes();
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal
                || (v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0x0d && v6[3] == 0xb8); // documentation 2001:db8::/32
        }
        var b = address.GetAddressBytes();
        return b[0] == 10
            || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)                 // link-local, cloud metadata endpoints
            || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)   // carrier-grade NAT
            || (b[0] == 192 && b[1] == 0 && b[2] == 0)      // IETF protocol assignments
            || (b[0] == 198 && (b[1] == 18 || b[1] == 19)); // benchmarking
    }
}

/// <summary>Name resolution used by the downloader; injectable so tests can point names anywhere.</summary>
public interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

public sealed class DnsHostResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>Thrown from the connect callback when every address a host resolves to is refused.</summary>
public sealed class BlockedAddressException(string host, IReadOnlyList<IPAddress> addresses)
    : Exception($"{host} resolves only to refused addresses: {string.Join(", ", addresses)}");
