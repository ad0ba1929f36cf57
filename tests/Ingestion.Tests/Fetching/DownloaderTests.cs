using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Tests.Images;
using Xunit;

namespace Platform.Ingestion.Tests.Fetching;

public sealed partial class DownloaderTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DownloaderOptions Fast = new()
    {
        AllowLoopback = true,
        AttemptTimeout = TimeSpan.FromSeconds(2),
        TotalTimeout = TimeSpan.FromSeconds(5),
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        MaxRetries = 2,
    };

    private readonly byte[] _image = TestImages.Jpeg(40, 30, seed: 1);
    private LoopbackServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await LoopbackServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private sealed class FixedResolver(IPAddress address) : IHostResolver
    {
        public int Calls;

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult(new[] { address });
        }
    }

    private async Task<FetchResult> Fetch(string url, DownloaderOptions? options = null, IHostResolver? resolver = null)
    {
        using var downloader = new HttpImageDownloader(options ?? Fast, resolver);
        return await downloader.FetchAsync(new ImageCandidate(url, "caption"), Ct);
    }

    [Fact]
    public async Task Downloads_the_image_with_the_configured_user_agent()
    {
        _server.MapImage("/a.jpg", _image);

        var result = await Fetch(_server.Url("/a.jpg"), Fast with { UserAgent = "TestBot/2.0 (+tests)" });

        Assert.Equal(_image, result.Payload);
        Assert.Contains("TestBot/2.0 (+tests)", _server.UserAgents);
    }

    [Fact]
    public async Task Server_errors_are_retried_with_backoff_until_success()
    {
        _server.Map("/flaky.jpg", async (context, before) =>
        {
            if (before < 2)
            {
                context.Response.StatusCode = 503;
                return;
            }
            context.Response.ContentType = "image/jpeg";
            await context.Response.Body.WriteAsync(_image);
        });

        var result = await Fetch(_server.Url("/flaky.jpg"));

        Assert.Equal(_image, result.Payload);
        Assert.Equal(3, _server.Hits("/flaky.jpg"));
    }

    [Fact]
    public async Task Persistent_server_error_gives_up_after_the_retries_and_client_errors_are_not_retried()
    {
        _server.Map("/broken.jpg", (context, _) =>
        {
            context.Response.StatusCode = 500;
            return Task.CompletedTask;
        });

        Assert.Equal("http_500", (await Fetch(_server.Url("/broken.jpg"))).FailureReason);
        Assert.Equal(3, _server.Hits("/broken.jpg"));
        Assert.Equal("http_404", (await Fetch(_server.Url("/missing.jpg"))).FailureReason);
        Assert.Equal(1, _server.Hits("/missing.jpg"));
    }

    [Fact]
    public async Task Storm_of_server_errors_opens_the_breaker_for_that_host_only()
    {
        for (var i = 0; i < 12; i++)
            _server.Map($"/storm/{i}.jpg", (context, _) =>
            {
                context.Response.StatusCode = 502;
                return Task.CompletedTask;
            });
        _server.MapImage("/fine.jpg", _image);
        var options = Fast with { MaxRetries = 0, BreakerMinimumThroughput = 4, BreakerFailureRatio = 0.5 };
        using var downloader = new HttpImageDownloader(options, new FixedResolver(IPAddress.Loopback));

        var reasons = new List<string?>();
        for (var i = 0; i < 12; i++)
            reasons.Add((await downloader.FetchAsync(new ImageCandidate(_server.Url($"/storm/{i}.jpg"), ""), Ct)).FailureReason);
        var otherHost = await downloader.FetchAsync(new ImageCandidate(_server.Url("/fine.jpg", host: "other-host.test"), ""), Ct);

        Assert.Equal(["http_502", "http_502", "http_502", "http_502"], reasons.Take(4));
        Assert.All(reasons.Skip(4), r => Assert.Equal("circuit_open", r));
        Assert.Equal(4, Enumerable.Range(0, 12).Sum(i => _server.Hits($"/storm/{i}.jpg")));
        Assert.Equal(_image, otherHost.Payload);
    }

    [Fact]
    public async Task Hanging_server_hits_the_per_attempt_timeout_and_each_retry_is_bounded()
    {
        _server.Map("/hang.jpg", (context, _) => Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted));
        // Long enough for each attempt to reach the server on a loaded machine, far below the handler's 30 s.
        var options = Fast with { AttemptTimeout = TimeSpan.FromSeconds(1), TotalTimeout = TimeSpan.FromSeconds(20), MaxRetries = 1 };

        var clock = Stopwatch.StartNew();
        var result = await Fetch(_server.Url("/hang.jpg"), options);

        Assert.Equal("timeout", result.FailureReason);
        Assert.Equal(2, _server.Hits("/hang.jpg"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Total_timeout_bounds_all_attempts_together()
    {
        _server.Map("/slow.jpg", (context, _) => Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted));
        var options = Fast with { AttemptTimeout = TimeSpan.FromSeconds(10), TotalTimeout = TimeSpan.FromMilliseconds(300) };

        var clock = Stopwatch.StartNew();
        var result = await Fetch(_server.Url("/slow.jpg"), options);

        Assert.Equal("timeout", result.FailureReason);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Redirects_are_followed_and_loops_end_at_the_limit()
    {
        _server.Map("/moved.jpg", (context, _) =>
        {
            context.Response.Redirect("/a.jpg");
            return Task.CompletedTask;
        });
        _server.MapImage("/a.jpg", _image);
        _server.Map("/loop.jpg", (context, _) =>
        {
            context.Response.Redirect("/loop.jpg");
            return Task.CompletedTask;
        });

        Assert.Equal(_image, (await Fetch(_server.Url("/moved.jpg"))).Payload);
        var loop = await Fetch(_server.Url("/loop.jpg"), Fast with { MaxRedirects = 3 });
        Assert.Equal("too_many_redirects", loop.FailureReason);
        Assert.Equal(4, _server.Hits("/loop.jpg"));
    }

    [Fact]
    public async Task Robots_txt_is_fetched_once_per_host_and_honoured_for_our_user_agent()
    {
        _server.Map("/robots.txt", (context, _) => context.Response.WriteAsync(
            "User-agent: *\nDisallow: /\n\nUser-agent: PlatformImageBot\nDisallow: /private/\nAllow: /private/shared/\n"));
        _server.MapImage("/public/a.jpg", _image);
        _server.MapImage("/private/a.jpg", _image);
        _server.MapImage("/private/shared/a.jpg", _image);
        using var downloader = new HttpImageDownloader(Fast);

        var publicImage = await downloader.FetchAsync(new ImageCandidate(_server.Url("/public/a.jpg"), ""), Ct);
        var privateImage = await downloader.FetchAsync(new ImageCandidate(_server.Url("/private/a.jpg"), ""), Ct);
        var shared = await downloader.FetchAsync(new ImageCandidate(_server.Url("/private/shared/a.jpg"), ""), Ct);

        Assert.Equal(_image, publicImage.Payload);
        Assert.Equal("robots_disallowed", privateImage.FailureReason);
        Assert.Equal(_image, shared.Payload);
        Assert.Equal(0, _server.Hits("/private/a.jpg"));
        Assert.Equal(1, _server.Hits("/robots.txt"));
    }

    [Fact]
    public async Task A_redirect_into_a_path_robots_txt_disallows_is_not_followed()
    {
        _server.Map("/robots.txt", (context, _) => context.Response.WriteAsync("User-agent: *\nDisallow: /private/\n"));
        _server.Map("/public/moved.jpg", (context, _) =>
        {
            context.Response.StatusCode = 302;
            context.Response.Headers.Location = "/private/a.jpg";
            return Task.CompletedTask;
        });
        _server.MapImage("/private/a.jpg", _image);

        var result = await Fetch(_server.Url("/public/moved.jpg"));

        Assert.Equal("robots_disallowed", result.FailureReason);
        Assert.Equal(1, _server.Hits("/public/moved.jpg"));
        Assert.Equal(0, _server.Hits("/private/a.jpg"));
    }

    [Fact]
    public async Task Robots_txt_answering_5xx_means_disallow_everything()
    {
        _server.Map("/robots.txt", (context, _) =>
        {
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        });
        _server.MapImage("/a.jpg", _image);

        Assert.Equal("robots_disallowed", (await Fetch(_server.Url("/a.jpg"))).FailureReason);
        Assert.Equal(0, _server.Hits("/a.jpg"));
    }

    [Theory]
    [InlineData(429)]
    [InlineData(500)]
    public async Task Robots_txt_answering_429_or_5xx_disallows_as_the_crawler_does(int status)
    {
        _server.Map("/robots.txt", (context, _) =>
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        });
        _server.MapImage("/a.jpg", _image);

        Assert.Equal("robots_disallowed", (await Fetch(_server.Url("/a.jpg"))).FailureReason);
        Assert.Equal(Platform.Ingestion.Crawling.RobotsFileStatus.Unreachable, Platform.Ingestion.Crawling.RobotsFile.FromResponse(status, []).Status);
    }

    [Fact]
    public async Task Robots_txt_larger_than_the_limit_disallows_as_the_crawler_does()
    {
        _server.Map("/robots.txt", (context, _) => context.Response.WriteAsync("User-agent: *\nAllow: /\n# " + new string('x', 30_000)));
        _server.MapImage("/a.jpg", _image);

        Assert.Equal("robots_disallowed", (await Fetch(_server.Url("/a.jpg"), Fast with { MaxResponseBytes = 20_000 })).FailureReason);
        Assert.Equal(0, _server.Hits("/a.jpg"));
    }

    [Fact]
    public async Task Robots_txt_redirect_to_another_scheme_is_refused_not_thrown()
    {
        _server.Map("/robots.txt", (context, _) =>
        {
            context.Response.StatusCode = 302;
            context.Response.Headers.Location = "ftp://127.0.0.1/robots.txt";
            return Task.CompletedTask;
        });
        _server.MapImage("/a.jpg", _image);

        Assert.Equal("robots_disallowed", (await Fetch(_server.Url("/a.jpg"))).FailureReason);
        Assert.Equal(0, _server.Hits("/a.jpg"));
    }

    [Theory]
    [InlineData("64:ff9b::a01:203")]   // NAT64 of 10.1.2.3
    [InlineData("2002:a01:203::1")]    // 6to4 of 10.1.2.3
    [InlineData("::a01:203")]          // IPv4-compatible 10.1.2.3
    public async Task Ipv6_forms_of_private_addresses_are_refused_as_blocked_even_through_robots_txt(string address)
    {
        var resolver = new FixedResolver(IPAddress.Parse(address));

        var result = await Fetch($"http://images.example.test:{_server.Port}/a.jpg", Fast, resolver);

        Assert.Equal("blocked_address", result.FailureReason);
        Assert.True(resolver.Calls > 0);
    }

    [Theory]
    [InlineData("noai", "x_robots_tag_opt_out")]
    [InlineData("noindex, nofollow", "x_robots_tag_opt_out")]
    [InlineData("NoImageAI", "x_robots_tag_opt_out")]
    [InlineData("PlatformImageBot: noimageindex", "x_robots_tag_opt_out")]
    [InlineData("none", "x_robots_tag_opt_out")]
    [InlineData("otherbot: noai", null)]
    [InlineData("nofollow", null)]
    public async Task X_robots_tag_opt_outs_are_honoured(string header, string? reason)
    {
        _server.MapImage("/tagged.jpg", _image, robotsTag: header);

        var result = await Fetch(_server.Url("/tagged.jpg"));

        Assert.Equal(reason, result.FailureReason);
        if (reason is null) Assert.Equal(_image, result.Payload);
    }

    [Fact]
    public async Task Opt_out_directives_are_configurable()
    {
        _server.MapImage("/tagged.jpg", _image, robotsTag: "noindex");

        var result = await Fetch(_server.Url("/tagged.jpg"), Fast with { OptOutDirectives = ["noai"] });

        Assert.Equal(_image, result.Payload);
    }

    [Fact]
    public async Task Oversized_bodies_and_wrong_content_types_are_refused()
    {
        _server.MapImage("/big.jpg", new byte[50_000]);
        _server.Map("/chunked.jpg", async (context, _) =>
        {
            context.Response.ContentType = "image/jpeg";
            for (var i = 0; i < 10; i++)
            {
                await context.Response.Body.WriteAsync(new byte[10_000]);
                await context.Response.Body.FlushAsync();
            }
        });
        _server.MapImage("/page.jpg", "<html></html>"u8.ToArray(), contentType: "text/html");
        var options = Fast with { MaxResponseBytes = 20_000 };

        Assert.Equal("too_large", (await Fetch(_server.Url("/big.jpg"), options)).FailureReason);
        Assert.Equal("too_large", (await Fetch(_server.Url("/chunked.jpg"), options)).FailureReason);
        Assert.Equal("wrong_content_type", (await Fetch(_server.Url("/page.jpg"), options)).FailureReason);
    }

    [Fact]
    public async Task Loopback_is_refused_unless_explicitly_allowed()
    {
        _server.MapImage("/a.jpg", _image);

        var result = await Fetch(_server.Url("/a.jpg"), Fast with { AllowLoopback = false });

        Assert.Equal("blocked_address", result.FailureReason);
        Assert.Equal(0, _server.Hits("/a.jpg"));
    }

    [Fact]
    public async Task Hostname_resolving_to_a_private_address_is_refused_after_resolution()
    {
        var resolver = new FixedResolver(IPAddress.Parse("10.1.2.3"));

        var result = await Fetch($"http://images.example.test:{_server.Port}/a.jpg", Fast with { HonourRobotsTxt = false }, resolver);

        Assert.Equal("blocked_address", result.FailureReason);
        Assert.True(resolver.Calls > 0);
    }

    [Fact]
    public async Task Connection_goes_to_the_address_the_resolver_returned()
    {
        _server.MapImage("/a.jpg", _image);
        var resolver = new FixedResolver(IPAddress.Loopback);

        var result = await Fetch($"http://images.example.test:{_server.Port}/a.jpg", Fast, resolver);

        Assert.Equal(_image, result.Payload);
        Assert.True(resolver.Calls > 0);
    }

    [Fact]
    public async Task Non_http_urls_are_refused()
    {
        Assert.Equal("invalid_url", (await Fetch("file:///etc/passwd")).FailureReason);
        Assert.Equal("invalid_url", (await Fetch("not a url")).FailureReason);
    }
}
