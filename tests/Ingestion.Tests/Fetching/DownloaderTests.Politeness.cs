using Microsoft.AspNetCore.Http;
using Platform.Ingestion.Crawling;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Shards;
using Xunit;

namespace Platform.Ingestion.Tests.Fetching;

/// <summary>The image downloader's manners towards one host: Retry-After, requests in flight, Crawl-delay and a shared robots.txt.</summary>
public sealed partial class DownloaderTests
{
    private Task Image(HttpContext context)
    {
        context.Response.ContentType = "image/jpeg";
        return context.Response.Body.WriteAsync(_image).AsTask();
    }

    private DateTimeOffset[] RequestTimes(string prefix) =>
        [.. _server.Requests.Where(r => r.PathAndQuery.StartsWith(prefix, StringComparison.Ordinal)).Select(r => r.At).Order()];

    [Fact]
    public async Task A_host_answering_429_with_a_retry_after_is_asked_again_only_after_that_wait()
    {
        _server.Map("/busy.jpg", (context, before) =>
        {
            if (before > 0) return Image(context);
            context.Response.StatusCode = 429;
            context.Response.Headers.RetryAfter = "2";
            return Task.CompletedTask;
        });
        using var downloader = new HttpImageDownloader(Fast);

        var result = await downloader.FetchAsync(new ImageCandidate(_server.Url("/busy.jpg"), "busy"), Ct);

        Assert.Equal(_image, result.Payload);
        var times = RequestTimes("/busy.jpg");
        Assert.Equal(2, times.Length);
        // Far above the 10 ms backoff the retry would otherwise take.
        Assert.True(times[1] - times[0] >= TimeSpan.FromSeconds(1.9), $"asked again after {(times[1] - times[0]).TotalSeconds:F2} s");
    }

    [Fact]
    public async Task A_retry_after_longer_than_the_limit_fails_the_image_at_once_with_the_hosts_status()
    {
        _server.Map("/resting.jpg", (context, _) =>
        {
            context.Response.StatusCode = 503;
            context.Response.Headers.RetryAfter = "3600";
            return Task.CompletedTask;
        });
        using var downloader = new HttpImageDownloader(Fast);

        var result = await downloader.FetchAsync(new ImageCandidate(_server.Url("/resting.jpg"), "resting"), Ct);

        Assert.Equal(FetchReasons.HttpStatus(503), result.FailureReason);
        Assert.Contains("Retry-After 3600 s", result.Detail);
        Assert.Equal(1, _server.Hits("/resting.jpg"));
    }

    [Fact]
    public async Task No_more_requests_than_the_per_host_limit_are_in_flight_to_one_host_however_many_fetches_run()
    {
        int inFlight = 0, most = 0;
        for (var i = 0; i < 24; i++)
            _server.Map($"/slow/{i}.jpg", async (context, _) =>
            {
                var now = Interlocked.Increment(ref inFlight);
                InterlockedMax(ref most, now);
                await Task.Delay(100, Ct);
                Interlocked.Decrement(ref inFlight);
                await Image(context);
            });
        using var downloader = new HttpImageDownloader(Fast with { MaxConcurrentPerHost = 3 });

        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => downloader.FetchAsync(new ImageCandidate(_server.Url($"/slow/{i}.jpg"), "slow"), Ct)));

        Assert.All(results, r => Assert.Equal(_image, r.Payload));
        Assert.Equal(3, most);
    }

    [Fact]
    public async Task A_robots_crawl_delay_spaces_the_image_requests_to_its_host()
    {
        _server.Map("/robots.txt", (context, _) => context.Response.WriteAsync("User-agent: *\nCrawl-delay: 1\nAllow: /\n", Ct));
        for (var i = 0; i < 3; i++) _server.Map($"/spaced/{i}.jpg", (context, _) => Image(context));
        using var downloader = new HttpImageDownloader(Fast);

        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => downloader.FetchAsync(new ImageCandidate(_server.Url($"/spaced/{i}.jpg"), "spaced"), Ct)));

        Assert.All(results, r => Assert.Equal(_image, r.Payload));
        // Slots are reserved one delay apart, and a caller may start up to a quarter of the delay after its slot
        // (HostPolitenessState): two requests are at least three quarters of the delay apart, and the three span two delays.
        var times = RequestTimes("/spaced/");
        Assert.Equal(3, times.Length);
        for (var i = 1; i < times.Length; i++)
            Assert.True(times[i] - times[i - 1] >= TimeSpan.FromSeconds(0.7), $"requests {i - 1} and {i} were {(times[i] - times[i - 1]).TotalSeconds:F2} s apart");
        Assert.True(times[^1] - times[0] >= TimeSpan.FromSeconds(1.7), $"three requests within {(times[^1] - times[0]).TotalSeconds:F2} s");
    }

    [Fact]
    public async Task Downloaders_and_a_crawl_sharing_one_politeness_fetch_a_hosts_robots_txt_once()
    {
        _server.Map("/robots.txt", (context, _) => context.Response.WriteAsync("User-agent: *\nDisallow: /private/\n", Ct));
        _server.Map("/open.jpg", (context, _) => Image(context));
        _server.Map("/private/closed.jpg", (context, _) => Image(context));
        var shared = new InProcessHostPoliteness(new PolitenessOptions { MinDelay = TimeSpan.Zero }, Fast.RobotsProductToken);
        using var first = new HttpImageDownloader(Fast, politeness: shared);
        using var second = new HttpImageDownloader(Fast, politeness: shared);

        var open = await first.FetchAsync(new ImageCandidate(_server.Url("/open.jpg"), "open"), Ct);
        var closed = await second.FetchAsync(new ImageCandidate(_server.Url("/private/closed.jpg"), "closed"), Ct);
        // A crawl asking the same politeness for the host's robots.txt is handed the file the downloaders fetched.
        var crawlSees = await shared.GetRobotsAsync(_server.Url("").TrimEnd('/'), _ => throw new InvalidOperationException("fetched twice"), Ct);

        Assert.Equal(_image, open.Payload);
        Assert.Equal(FetchReasons.RobotsDisallowed, closed.FailureReason);
        Assert.Equal(RobotsFileStatus.Found, crawlSees.Status);
        Assert.Equal(1, _server.Hits("/robots.txt"));
        Assert.Equal(0, _server.Hits("/private/closed.jpg"));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
