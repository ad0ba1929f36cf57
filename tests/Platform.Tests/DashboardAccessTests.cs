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
}
