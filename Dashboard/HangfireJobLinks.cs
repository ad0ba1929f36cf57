using System.Net;
using Hangfire;
using Hangfire.Common;
using Hangfire.Dashboard;

namespace Platform.Dashboard;

/// <summary>
/// Links from the Hangfire dashboard back to the platform's pages: a job's display name names its page, and its details
/// page gets a section with a link there. Hangfire escapes display names, so only the details section can hold a link.
/// </summary>
public static class HangfireJobLinks
{
    private static int _rendererAdded;

    /// <summary>
    /// Adds the details section that links a job to its page (<paramref name="pageOf"/>: the page's path, or null for a job
    /// with no page of its own). Hangfire keeps renderers process-wide, so it is added once however many hosts a process builds.
    /// </summary>
    public static IGlobalConfiguration UsePlatformPageLinks(this IGlobalConfiguration configuration, Func<Job, string?> pageOf)
    {
        if (Interlocked.Exchange(ref _rendererAdded, 1) == 1) return configuration;
        return configuration.UseJobDetailsRenderer(10, details =>
        {
            var page = details.JobDetails.Job is { } job ? pageOf(job) : null;
            if (page is null) return null;
            var encoded = WebUtility.HtmlEncode(page);
            return new NonEscapedString(
                $"<h3 class=\"job-snippet-header\">Platform page</h3><p><a href=\"{encoded}\" data-platform-page=\"true\">{encoded}</a>: what this job started, as the platform shows it.</p>");
        });
    }

    /// <summary>The display name of a job in Hangfire's lists: its method, then the page it belongs to.</summary>
    public static string DisplayName(Job job, Func<Job, string?>? pageOf)
    {
        var name = $"{job.Type.Name}.{job.Method.Name}";
        return pageOf?.Invoke(job) is { } page ? $"{name} · {page}" : name;
    }
}
