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
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return allowLoopback;
        if (IsUnspecifiedOrMulticast(address)) return false;
        return allowPrivateNetworks || !IsNonPublic(address);
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
