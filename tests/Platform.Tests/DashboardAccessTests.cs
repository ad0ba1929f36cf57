using System.Net;
using Microsoft.AspNetCore.Http;
using Platform.Dashboard;

namespace Platform.Tests;

public sealed class DashboardAccessTests
{
    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("::1", "::1", true)]
    [InlineData("10.1.2.3", "10.1.2.3", true)]
    [InlineData("10.1.2.3", "127.0.0.1", false)]
    [InlineData("203.0.113.9", "10.1.2.3", false)]
    public void Only_requests_from_this_machine_count_as_local(string remote, string local, bool expected)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        context.Connection.LocalIpAddress = IPAddress.Parse(local);
        Assert.Equal(expected, DashboardEndpoints.IsLocal(context));
    }

    [Theory]
    [InlineData("X-Forwarded-For", "203.0.113.9")]
    [InlineData("X-Forwarded-For", "127.0.0.1")]
    [InlineData("Forwarded", "for=203.0.113.9")]
    public void A_request_relayed_by_an_untrusted_proxy_on_this_machine_is_not_local(string header, string value)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Connection.LocalIpAddress = IPAddress.Loopback;
        context.Request.Headers[header] = value;
        Assert.False(DashboardEndpoints.IsLocal(context));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", null, "localhost;127.0.0.1;[::1]")]
    [InlineData("http://127.0.0.1:5080;http://platform.lan:5081", null, "localhost;127.0.0.1;[::1];platform.lan")]
    [InlineData("http://[::1]:5080", null, "localhost;127.0.0.1;[::1]")]
    [InlineData("http://0.0.0.0:5080", null, "*")]
    [InlineData("http://*:5080", null, "*")]
    [InlineData("http://0.0.0.0:5080", "platform.example.com;*.internal", "platform.example.com;*.internal")]
    public void Allowed_hosts_default_to_loopback_and_the_bound_names(string urls, string? configured, string expected)
    {
        var web = new Platform.Silo.Hosting.WebSettings { Urls = urls, AllowedHosts = configured };
        Assert.Equal(expected.Split(';'), web.EffectiveAllowedHosts());
    }
}
