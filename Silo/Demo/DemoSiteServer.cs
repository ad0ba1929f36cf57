using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Platform.Silo.Demo;

/// <summary>Serves a <see cref="DemoWebSite"/> on a free loopback port with Kestrel, inside the demo's process, for as long as it is held.</summary>
public sealed class DemoSiteServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private DemoSiteServer(WebApplication app, Uri baseAddress)
    {
        this.app = app;
        BaseAddress = baseAddress;
    }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri BaseAddress { get; }

    public static async Task<DemoSiteServer> StartAsync(DemoWebSite site, CancellationToken cancellationToken)
    {
        // An empty builder: no configuration sources, no logging, nothing of the platform's host leaks in.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseUrls("http://127.0.0.1:0");
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        app.Run(async context =>
        {
            var path = context.Request.Path.Value ?? "/";
            if (!site.Resources.TryGetValue(path, out var resource))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            context.Response.ContentType = resource.ContentType;
            foreach (var (name, value) in resource.Headers) context.Response.Headers.Append(name, value);
            context.Response.ContentLength = resource.Body.Length;
            await context.Response.Body.WriteAsync(resource.Body, context.RequestAborted);
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new DemoSiteServer(app, new Uri(address.EndsWith('/') ? address : address + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
