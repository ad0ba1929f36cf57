using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Platform.Ingestion.Tests.Fetching;

/// <summary>Kestrel on 127.0.0.1 with a free port; each path answers with a handler the test sets.</summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<HttpContext, int, Task>> _routes = new();
    private readonly ConcurrentDictionary<string, int> _hits = new();

    public ConcurrentQueue<string> UserAgents { get; } = new();

    /// <summary>Every request as it arrived: Host header, path with query, and when.</summary>
    public ConcurrentQueue<(string Host, string PathAndQuery, DateTimeOffset At)> Requests { get; } = new();

    private LoopbackServer(WebApplication app) => _app = app;

    public int Port { get; private set; }

    public static async Task<LoopbackServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var server = new LoopbackServer(builder.Build());
        server._app.Run(server.HandleAsync);
        await server._app.StartAsync();
        var address = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Port = new Uri(address).Port;
        return server;
    }

    /// <summary>Handler receives the context and how many times this path was hit before (0 on the first).</summary>
    public void Map(string path, Func<HttpContext, int, Task> handler) => _routes[path] = handler;

    public void MapImage(string path, byte[] image, string contentType = "image/jpeg", string? robotsTag = null) =>
        Map(path, (context, _) =>
        {
            context.Response.ContentType = contentType;
            if (robotsTag is not null) context.Response.Headers["X-Robots-Tag"] = robotsTag;
            return context.Response.Body.WriteAsync(image).AsTask();
        });

    public int Hits(string path) => _hits.GetValueOrDefault(path);

    public string Url(string path, string host = "127.0.0.1") => $"http://{host}:{Port}{path}";

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        Requests.Enqueue((context.Request.Host.Host, path + context.Request.QueryString, DateTimeOffset.UtcNow));
        var before = _hits.AddOrUpdate(path, 1, (_, n) => n + 1) - 1;
        UserAgents.Enqueue(context.Request.Headers.UserAgent.ToString());
        if (_routes.TryGetValue(path, out var handler)) await handler(context, before);
        else context.Response.StatusCode = 404;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
