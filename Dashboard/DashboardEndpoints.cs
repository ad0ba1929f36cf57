using System.Net;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Orleans.Dashboard;

namespace Platform.Dashboard;

public static class DashboardEndpoints
{
    public const string OrleansPath = "/orleans";
    public const string HangfirePath = "/hangfire";

    /// <summary>
    /// Maps the Orleans dashboard and the Hangfire dashboard. Without an authorization policy
    /// both answer local requests only (the platform binds loopback by default, but a host bound to
    /// a public address must not expose job controls); with one, the policy decides.
    /// </summary>
    /// <param name="jobPage">The platform page of a Hangfire job, named in its display name (see <see cref="HangfireJobLinks"/>).</param>
    public static WebApplication MapPlatformDashboards(this WebApplication app, string? authorizationPolicy, Func<Hangfire.Common.Job, string?>? jobPage = null)
    {
        var restricted = string.IsNullOrWhiteSpace(authorizationPolicy);
        if (restricted)
        {
            // A middleware rather than an endpoint filter: it covers every endpoint under the
            // prefix, including the dashboards' static assets.
            app.UseLocalRequestsOnly(context => context.Request.Path.StartsWithSegments(OrleansPath));
        }

        var orleans = app.MapOrleansDashboard(OrleansPath);
        var hangfire = app.MapHangfireDashboard(HangfirePath, new Hangfire.DashboardOptions
        {
            DashboardTitle = "SimVLM platform · jobs",
            AppPath = "/",
            DisplayNameFunc = (_, job) => HangfireJobLinks.DisplayName(job, jobPage),
            Authorization = restricted ? [new LocalRequestsOnlyAuthorizationFilter()] : [],
        });
        if (!restricted)
        {
            orleans.RequireAuthorization(authorizationPolicy!);
            hangfire.RequireAuthorization(authorizationPolicy!);
        }
        return app;
    }

    /// <summary>Answers 403 to requests from other machines for which <paramref name="applies"/> holds.</summary>
    internal static void UseLocalRequestsOnly(this WebApplication app, Func<HttpContext, bool> applies) =>
        app.UseWhen(applies, branch => branch.Use(async (context, next) =>
        {
            if (IsLocal(context))
                await next(context);
            else
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
        }));

    public static bool IsLocal(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (remote is null) return false;
        // Forwarding headers left on the request come from a proxy that is not trusted (a trusted one's are
        // consumed before this): the client is elsewhere, even when the proxy runs on this machine.
        if (context.Request.Headers.ContainsKey("X-Forwarded-For") || context.Request.Headers.ContainsKey("Forwarded")) return false;
        return IPAddress.IsLoopback(remote) || remote.Equals(context.Connection.LocalIpAddress);
    }
}
