using Platform.Dashboard;

namespace Platform.Silo.Hosting;

/// <summary>Who may call the platform's HTTP API: as for the dashboards, local requests only unless a policy decides.</summary>
public static class ApiAccess
{
    public static RouteGroupBuilder GuardedLikeTheDashboards(this RouteGroupBuilder group, string? authorizationPolicy)
    {
        if (!string.IsNullOrWhiteSpace(authorizationPolicy)) group.RequireAuthorization(authorizationPolicy);
        else group.AddEndpointFilter(async (context, next) =>
            DashboardEndpoints.IsLocal(context.HttpContext) ? await next(context) : Results.StatusCode(StatusCodes.Status403Forbidden));
        return group;
    }
}
