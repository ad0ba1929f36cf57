using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Dashboard;

namespace Platform.Tests.Dashboard;

/// <summary>
/// Every endpoint of the pages (pages, their SignalR hub, their assets, images and actions) sits behind the same guard as
/// `/orleans` and `/hangfire`: a named authorization policy when one is configured. The local-only default is checked on a
/// real platform by <see cref="DashboardBrowserTests"/>.
/// </summary>
public sealed class DashboardAuthorizationTests
{
    private const string Policy = "operators";
    private const string UserHeader = "X-Test-Operator";

    /// <summary>Signs in whoever sends <see cref="UserHeader"/>; everyone else is anonymous.</summary>
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
            Task.FromResult(Request.Headers.TryGetValue(UserHeader, out var name)
                ? AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, name.ToString())], Scheme.Name)), Scheme.Name))
                : AuthenticateResult.NoResult());
    }

    [Fact]
    public async Task With_a_named_policy_the_pages_their_hub_assets_images_and_actions_refuse_whom_it_refuses()
    {
        var ct = TestContext.Current.CancellationToken;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddAuthentication("header").AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>("header", null);
        builder.Services.AddAuthorization(o => o.AddPolicy(Policy, p => p.RequireAuthenticatedUser()));
        builder.Services.AddPlatformPages("datasets");
        await using var app = builder.Build();
        app.MapPlatformPages(Policy);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, bool signedIn)
        {
            using var request = new HttpRequestMessage(method, path);
            if (signedIn) request.Headers.Add(UserHeader, "ops");
            using var response = await http.SendAsync(request, ct);
            return response.StatusCode;
        }

        (HttpMethod Method, string Path)[] endpoints =
        [
            (HttpMethod.Get, "/"),
            (HttpMethod.Get, "/datasets"),
            (HttpMethod.Get, "/runs/some-run"),
            (HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1"),
            (HttpMethod.Get, "/_framework/blazor.web.js"),
            (HttpMethod.Get, "/datasets/web/shards/00000/image?offset=512&length=10"),
            (HttpMethod.Post, "/runs/some-run/pause"),
            (HttpMethod.Get, "/evaluations/coco-captions?checkpoint=%2Fruns%2Fr%2Fstep-00000010"),
            (HttpMethod.Get, "/evaluations/coco-captions/output?checkpoint=%2Fruns%2Fr%2Fstep-00000010&name=coco-captions%2Fabc%2Fcaptions.json"),
            (HttpMethod.Get, "/evaluations/coco-captions/image?checkpoint=%2Fruns%2Fr%2Fstep-00000010&file=1.png"),
        ];
        // A request the policy refuses never reaches the endpoint: the scheme's challenge answers it.
        foreach (var (method, path) in endpoints)
            Assert.True(await SendAsync(method, path, signedIn: false) == HttpStatusCode.Unauthorized, $"{method} {path} answered an anonymous request");
        // The same hub and assets answer whom the policy lets in (pages need a cluster, which this host lacks).
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1", signedIn: true));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, "/_framework/blazor.web.js", signedIn: true));
        await app.StopAsync(ct);
    }
}
