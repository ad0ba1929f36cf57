using System.Net;
using Platform.Tests.Infrastructure;

namespace Platform.Tests;

/// <summary>A real `platform up` refusing foreign Host headers (DNS rebinding) and believing only its configured proxy.</summary>
public sealed class WebExposureTests
{
    private static async Task<HttpStatusCode> GetAsync(RunningPlatform platform, string path, string? host = null, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (host is not null) request.Headers.Host = host;
        if (forwardedFor is not null) request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await platform.Http.SendAsync(request, TestContext.Current.CancellationToken);
        return response.StatusCode;
    }

    [Fact]
    public async Task Foreign_hosts_are_refused_and_only_a_trusted_proxy_forwards_the_client_address()
    {
        await using var platform = await RunningPlatform.StartAsync(new Dictionary<string, string> { ["PLATFORM_Web__TrustedProxies"] = "127.0.0.1" });

        Assert.Equal(HttpStatusCode.OK, await GetAsync(platform, "/api/devices"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(platform, "/api/devices", host: "localhost:5080"));
        // A rebinding page's name is not one the platform answers to, on any path.
        Assert.Equal(HttpStatusCode.BadRequest, await GetAsync(platform, "/api/devices", host: "attacker.example"));
        Assert.Equal(HttpStatusCode.BadRequest, await GetAsync(platform, "/hangfire", host: "attacker.example"));
        // Through the trusted proxy: the forwarded client decides, not the proxy's loopback address.
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync(platform, "/api/devices", forwardedFor: "203.0.113.9"));
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync(platform, "/orleans", forwardedFor: "203.0.113.9"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(platform, "/api/devices", forwardedFor: "127.0.0.1"));
    }
}
