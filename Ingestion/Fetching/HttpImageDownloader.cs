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
/// before any body is read; retries with exponential backoff and jitter; a circuit breaker per host;
/// per-attempt and total timeouts; bounded redirects and body size; and every connection goes through a
/// connect callback that refuses non-public addresses after resolution, so a hostname pointing at an
/// internal address is refused too.
/// </summary>
public sealed class HttpImageDownloader : IImageSource, IDisposable
{
    private readonly DownloaderOptions _options;
    private readonly HttpClient _client;
    private readonly ConcurrentDictionary<string, ResiliencePipeline<Attempt>> _hostPipelines = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, Lazy<Task<RobotsRules>>> _robots = new(StringComparer.OrdinalIgnoreCase);

    public HttpImageDownloader(DownloaderOptions options, IHostResolver? resolver = null)
    {
        _options = options;
        var policy = new AddressPolicy(options.AllowLoopback, options.AllowPrivateNetworks);
        resolver ??= new DnsHostResolver();
        var handler = GuardedHttp.CreateHandler(policy, resolver, decompress: true);
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
        _client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("image/*"));
    }

    /// <summary>One attempt's outcome; <see cref="Transient"/> failures are retried and count against the host.</summary>
    private sealed record Attempt(FetchResult Result, bool Transient);

    public async Task<FetchResult> FetchAsync(ImageCandidate candidate, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(candidate.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return FetchResult.Failure(FetchReasons.InvalidUrl, candidate.Url);
        try
        {
            var pipeline = _hostPipelines.GetOrAdd(uri.Authority, _ => BuildPipeline());
            var attempt = await pipeline.ExecuteAsync(ct => AttemptAsync(uri, ct), cancellationToken);
            return attempt.Result;
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
            if (_options.HonourRobotsTxt && !(await RobotsForAsync(current, cancellationToken)).IsAllowed(current.PathAndQuery))
                return new Attempt(FetchResult.Failure(FetchReasons.RobotsDisallowed, current.ToString()), false);

            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                if (hop >= _options.MaxRedirects)
                    return new Attempt(FetchResult.Failure(FetchReasons.TooManyRedirects, $"more than {_options.MaxRedirects} redirects"), false);
                current = location.IsAbsoluteUri ? location : new Uri(current, location);
                if (current.Scheme != Uri.UriSchemeHttp && current.Scheme != Uri.UriSchemeHttps)
                    return new Attempt(FetchResult.Failure(FetchReasons.InvalidUrl, $"redirect to {current}"), false);
                continue;
            }
            if (!response.IsSuccessStatusCode)
                return new Attempt(FetchResult.Failure(FetchReasons.HttpStatus(status), response.ReasonPhrase ?? ""),
                    status >= 500 || status is 408 or 429);
            if (GuardedHttp.OptOutDirective(response, _options.RobotsProductToken, _options.OptOutDirectives) is { } directive)
                return new Attempt(FetchResult.Failure(FetchReasons.OptedOut, directive), false);
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (mediaType is not null && !mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase)
                && mediaType != "application/octet-stream" && mediaType != "binary/octet-stream")
                return new Attempt(FetchResult.Failure(FetchReasons.WrongContentType, mediaType), false);
            if (response.Content.Headers.ContentLength > _options.MaxResponseBytes)
                return new Attempt(FetchResult.Failure(FetchReasons.TooLarge, $"{response.Content.Headers.ContentLength} bytes announced"), false);
            var body = await GuardedHttp.ReadLimitedAsync(response.Content, _options.MaxResponseBytes, cancellationToken);
            return body is null
                ? new Attempt(FetchResult.Failure(FetchReasons.TooLarge, $"more than {_options.MaxResponseBytes} bytes"), false)
                : new Attempt(FetchResult.Success(body), false);
        }
    }

    private Task<RobotsRules> RobotsForAsync(Uri uri, CancellationToken cancellationToken)
    {
        var origin = uri.GetLeftPart(UriPartial.Authority);
        // Fetched once per origin; the fetch itself must not be cancelled by one caller on behalf of all.
        return _robots.GetOrAdd(origin, o => new Lazy<Task<RobotsRules>>(() => FetchRobotsAsync(new Uri(o + "/robots.txt"))))
            .Value.WaitAsync(cancellationToken);
    }

    private async Task<RobotsRules> FetchRobotsAsync(Uri robotsUri)
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
                    if (!RobotsFile.MayFollowRedirect(current)) return RobotsRules.Unreachable;
                    continue;
                }
                var body = status is >= 200 and <= 299
                    ? await GuardedHttp.ReadLimitedAsync(response.Content, _options.MaxResponseBytes, timeout.Token)
                    : null;
                return RobotsFile.FromResponse(status, body).Rules(_options.RobotsProductToken);
            }
            return RobotsFile.TooManyRedirects.Rules(_options.RobotsProductToken);
        }
        // A refused address is not "unreachable": it propagates so the image fails as blocked_address.
        catch (Exception ex) when ((ex is HttpRequestException or IOException or OperationCanceledException) && GuardedHttp.FindBlocked(ex) is null)
        {
            return RobotsRules.Unreachable;
        }
    }

    public void Dispose() => _client.Dispose();
}
