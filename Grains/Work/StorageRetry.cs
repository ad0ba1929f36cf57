using Microsoft.Extensions.Logging;
using Orleans.Storage;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Platform.Grains.Work;

/// <summary>
/// How long the platform rides out its storage being unreachable (an emulator paused, a network blip, a throttled account)
/// before a write is given up: <c>Storage:OutageRetryCeiling</c>. A write given up is not an attempt of the work that wanted it.
/// </summary>
public sealed class StorageRetryOptions
{
    public const string Section = "Storage";

    /// <summary>The longest a durable write or a worker's report keeps being retried (default 90 s, longer than a 60 s storage pause).</summary>
    public TimeSpan OutageRetryCeiling { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>The first wait between tries; it doubles (with jitter) up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan FirstDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Polly pipelines that retry storage calls through an outage, with exponential backoff and a hard ceiling
/// (<see cref="StorageRetryOptions.OutageRetryCeiling"/>) on the whole call, tries included: a try that hangs (a paused
/// server accepts the connection and never answers) is cancelled when the ceiling is reached.
/// </summary>
public static class StorageRetry
{
    /// <summary>
    /// Retries every failure except <paramref name="permanent"/> ones. An ETag conflict (<see cref="InconsistentStateException"/>)
    /// is never retried here: the stored state moved on, and only a reload can tell what it is.
    /// </summary>
    public static ResiliencePipeline Pipeline(StorageRetryOptions options, ILogger logger, string what, Func<Exception, bool>? permanent = null) =>
        new ResiliencePipelineBuilder()
            .AddTimeout(new TimeoutStrategyOptions { Timeout = options.OutageRetryCeiling })
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(error =>
                    error is not (InconsistentStateException or OperationCanceledException) && permanent?.Invoke(error) != true),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.FirstDelay,
                MaxDelay = options.MaxDelay,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    logger.LogWarning(args.Outcome.Exception, "{What} failed (try {Try}); storage may be unreachable, retrying in {Delay}",
                        what, args.AttemptNumber + 1, args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

    /// <summary>
    /// Writes a grain's state through an outage. When the write is given up the grain is deactivated before the error goes
    /// to the caller: its in-memory state (attempt numbers handed out, phases moved) never became durable, and the next call
    /// reloads what is, so nothing the failed write carried counts.
    /// </summary>
    public static Task WriteStateAsync<TState>(this ResiliencePipeline pipeline, IPersistentState<TState> state, IGrainBase grain) =>
        pipeline.WriteOnGrainAsync(state.WriteStateAsync, grain);

    /// <summary>Any of a grain's durable writes through an outage, given up as <see cref="WriteStateAsync{TState}"/> is.</summary>
    public static async Task WriteOnGrainAsync(this ResiliencePipeline pipeline, Func<CancellationToken, Task> write, IGrainBase grain)
    {
        // Every try must run on the grain's scheduler (Orleans refuses a state write from elsewhere), and Polly by default
        // continues its awaits anywhere.
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true);
        try
        {
            await pipeline.ExecuteAsync(static (ctx, write) => new ValueTask(write(ctx.CancellationToken)), context, write);
        }
        catch
        {
            grain.DeactivateOnIdle();
            throw;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
