using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Platform.Ingestion.Shards;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

using Platform.Ingestion.Crawling;

namespace Platform.Ingestion.Fetching;

/// <summary>
/// Downloads images over HTTP politely and defensively: robots.txt and X-Robots-Tag opt-outs are honoured
/// before any body is read; requests to a host are spaced and its circuit kept by an <see cref="IHostPoliteness"/>
/// (the crawl's, when it shares one: one robots.txt fetch and one Crawl-delay per host for both), and at most
/// <see cref="DownloaderOptions.MaxConcurrentPerHost"/> are in flight to it; retries with exponential backoff and
/// jitter, or after the host's Retry-After; a circuit breaker per host;
/// per-attempt and total timeouts; bounded redirects and body size; and every connection goes through a
/// connect callback that refuses non-public addresses after resolution, so a hostname pointing at an
/// internal address is refused too.
/// </summary>
public sealed class HttpImageDownloader : IImageSource, IDisposable
{
    private readonly DownloaderOptions _options;
    private readonly HttpClient _client;
    private readonly ConcurrentDictionary<string, ResiliencePipeline<Attempt>> _hostPipelines = new(StringComparer.OrdinalIgnoreCase);
    private readonly RobotsRulesCache _robotsRules;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _inFlight = new(StringComparer.OrdinalIgnoreCase);
    private readonly IHostPoliteness _politeness;

    public HttpImageDownloader(DownloaderOptions options, IHostResolver? resolver = null, IHostPoliteness? politeness = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConcurrentPerHost, 1);
        _options = options;
        _politeness = politeness ?? new InProcessHostPoliteness(options.Politeness, options.RobotsProductToken);
        _robotsRules = new RobotsRulesCache(options.RobotsProductToken);
        var policy = new AddressPolicy(options.AllowLoopback, options.AllowPrivateNetworks);
        resolver ??= new DnsHostResolver();
        var handler = GuardedHttp.CreateHandler(policy, resolver, decompress: true);
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
        _client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("image/*"));
    }

    /// <summary>
    /// One attempt's outcome; <see cref="Transient"/> failures are retried and count against the host, after
    /// <see cref="RetryAfter"/> when the host said how long to wait.
    /// </summary>
    private sealed record Attempt(FetchResult Result, bool Transient, TimeSpan? RetryAfter = null);

    public async Task<FetchResult> FetchAsync(ImageCandidate candidate, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(candidate.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return FetchResult.Failure(FetchReasons.InvalidUrl, candidate.Url);
        var origin = uri.GetLeftPart(UriPartial.Authority);
        var inFlight = _inFlight.GetOrAdd(origin, _ => new SemaphoreSlim(_options.MaxConcurrentPerHost));
        try
        {
            // Disallowed images take no turn; the rules also tell the host's Crawl-delay before its first slot.
            if (_options.HonourRobotsTxt && !(await RobotsForAsync(uri, cancellationToken)).IsAllowed(uri.PathAndQuery))
                return FetchResult.Failure(FetchReasons.RobotsDisallowed, uri.ToString());
            // The turn is waited for outside the timeouts, which bound the requests, not the queue before a slow host.
            await inFlight.WaitAsync(cancellationToken);
            try
            {
                if (!await _politeness.WaitForSlotAsync(origin, cancellationToken))
                    return FetchResult.Failure(FetchReasons.CircuitOpen, $"{origin} failed too often and is rested");
                var pipeline = _hostPipelines.GetOrAdd(uri.Authority, _ => BuildPipeline());
                var attempt = await pipeline.ExecuteAsync(ct => AttemptAsync(uri, ct), cancellationToken);
                return attempt.Result;
            }
            finally
            {
                inFlight.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TimeoutRejectedException ex)
        {
            return FetchResult.Failure(FetchReasons.Timeout, ex.Message);
        }
        catch (BrokenCircuitException ex)
        {
            return FetchResult.Failure(FetchReasons.CircuitOpen, ex.Message);
        }
        catch (HttpRequestException ex) when (GuardedHttp.FindBlocked(ex) is { } blocked)
        {
            return FetchResult.Failure(FetchReasons.BlockedAddress, blocked.Message);
        }
        catch (UriFormatException ex)
        {
            return FetchResult.Failure(FetchReasons.InvalidUrl, ex.Message);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or SocketException)
        {
            return FetchResult.Failure(FetchReasons.NetworkError, ex.Message);
        }
    }

    private ResiliencePipeline<Attempt> BuildPipeline()
    {
        var transient = new PredicateBuilder<Attempt>()
            .HandleResult(a => a.Transient)
            .Handle<TimeoutRejectedException>()
            .Handle<HttpRequestException>(ex => GuardedHttp.FindBlocked(ex) is null)
            .Handle<IOException>();
        var builder = new ResiliencePipelineBuilder<Attempt>().AddTimeout(_options.TotalTimeout);
        // Polly refuses a retry strategy with zero attempts; no retries means no retry strategy.
        if (_options.MaxRetries > 0)
            builder.AddRetry(new RetryStrategyOptions<Attempt>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = _options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.RetryAfter),
            });
        return builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<Attempt>
            {
                ShouldHandle = transient,
                FailureRatio = _options.BreakerFailureRatio,
                MinimumThroughput = Math.Max(2, _options.BreakerMinimumThroughput),
                SamplingDuration = _options.BreakerSamplingDuration,
                BreakDuration = _options.BreakerBreakDuration,
            })
            .AddTimeout(_options.AttemptTimeout)
            .Build();
    }

    private async ValueTask<Attempt> AttemptAsync(Uri uri, CancellationToken cancellationToken)
    {
        var current = uri;
        for (var hop = 0; ; hop++)
        {
            // The image's own URL was checked before its turn at the host; a redirect's target is checked here.
            if (hop > 0 && _options.HonourRobotsTxt && !(await RobotsForAsync(current, cancellationToken)).IsAllowed(current.PathAndQuery))
                return new Attempt(FetchResult.Failure(FetchReasons.RobotsDisallowed, current.ToString()), false);

            var (attempt, redirect) = await RequestAsync(current, hop, cancellationToken);
            if (redirect is null) return attempt!;
            current = redirect;
        }
    }

    /// <summary>One request of an attempt, reported to the host's politeness: the attempt's outcome, or where it redirects.</summary>
    private async Task<(Attempt? Attempt, Uri? Redirect)> RequestAsync(Uri current, int hop, CancellationToken cancellationToken)
    {
        var origin = current.GetLeftPart(UriPartial.Authority);
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (GuardedHttp.FindBlocked(error) is null) await _politeness.ReportAsync(origin, failed: true, CancellationToken.None);
            throw;
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            await _politeness.ReportAsync(origin, failed: status >= 500 || status == 429, CancellationToken.None);
            if (status is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                if (hop >= _options.MaxRedirects)
                    return (new Attempt(FetchResult.Failure(FetchReasons.TooManyRedirects, $"more than {_options.MaxRedirects} redirects"), false), null);
                var target = location.IsAbsoluteUri ? location : new Uri(current, location);
                if (target.Scheme != Uri.UriSchemeHttp && target.Scheme != Uri.UriSchemeHttps)
                    return (new Attempt(FetchResult.Failure(FetchReasons.InvalidUrl, $"redirect to {target}"), false), null);
                return (null, target);
            }
            if (!response.IsSuccessStatusCode)
            {
                var failure = FetchResult.Failure(FetchReasons.HttpStatus(status), response.ReasonPhrase ?? "");
                if (status is 429 or 503 && RetryAfter(response) is { } wait)
                    // A host that asks for a longer rest than we wait gets it: the image fails now, nothing is retried.
                    return (wait <= _options.MaxRetryAfter ? new Attempt(failure, true, wait) : new Attempt(failure with { Detail = $"{failure.Detail} (Retry-After {wait.TotalSeconds:F0} s)" }, false), null);
                return (new Attempt(failure, status >= 500 || status is 408 or 429), null);
            }
            if (GuardedHttp.OptOutDirective(response, _options.RobotsProductToken, _options.OptOutDirectives) is { } directive)
                return (new Attempt(FetchResult.Failure(FetchReasons.OptedOut, directive), false), null);
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (mediaType is not null && !mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase)
                && mediaType != "application/octet-stream" && mediaType != "binary/octet-stream")
                return (new Attempt(FetchResult.Failure(FetchReasons.WrongContentType, mediaType), false), null);
            if (response.Content.Headers.ContentLength > _options.MaxResponseBytes)
                return (new Attempt(FetchResult.Failure(FetchReasons.TooLarge, $"{response.Content.Headers.ContentLength} bytes announced"), false), null);
            var body = await GuardedHttp.ReadLimitedAsync(response.Content, _options.MaxResponseBytes, cancellationToken);
            return (body is null
                ? new Attempt(FetchResult.Failure(FetchReasons.TooLarge, $"more than {_options.MaxResponseBytes} bytes"), false)
                : new Attempt(FetchResult.Success(body), false), null);
        }
    }

    /// <summary>Retry-After as seconds or as a date (RFC 9110); a date in the past asks for no wait.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta < TimeSpan.Zero ? TimeSpan.Zero : delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>The origin's rules, from the robots.txt its politeness fetched once; parsed once per file, not per image.</summary>
    private async Task<RobotsRules> RobotsForAsync(Uri uri, CancellationToken cancellationToken)
    {
        var origin = uri.GetLeftPart(UriPartial.Authority);
        var file = await _politeness.GetRobotsAsync(origin, _ => FetchRobotsAsync(new Uri(origin + "/robots.txt")), cancellationToken);
        return _robotsRules.For(origin, file);
    }

    private async Task<RobotsFile> FetchRobotsAsync(Uri robotsUri)
    {
        using var timeout = new CancellationTokenSource(_options.RobotsTimeout);
        try
        {
            var current = robotsUri;
            for (var hop = 0; hop <= _options.MaxRedirects; hop++)
            {
                using var response = await _client.GetAsync(current, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var status = (int)response.StatusCode;
                if (status is >= 300 and < 400 && response.Headers.Location is { } location)
                {
                    current = location.IsAbsoluteUri ? location : new Uri(current, location);
                    if (!RobotsFile.MayFollowRedirect(current)) return new RobotsFile(RobotsFileStatus.Unreachable);
                    continue;
                }
                var body = status is >= 200 and <= 299
                    ? await GuardedHttp.ReadLimitedAsync(response.Content, _options.MaxResponseBytes, timeout.Token)
                    : null;
                return RobotsFile.FromResponse(status, body);
            }
            return RobotsFile.TooManyRedirects;
        }
        // A refused address is not "unreachable": it propagates so the image fails as blocked_address.
        catch (Exception ex) when ((ex is HttpRequestException or IOException or OperationCanceledException) && GuardedHttp.FindBlocked(ex) is null)
        {
            return new RobotsFile(RobotsFileStatus.Unreachable);
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        foreach (var gate in _inFlight.Values) gate.Dispose();
    }
}
