using Platform.Ingestion.Crawling;

namespace Platform.Grains.Crawling;

/// <summary>
/// Holds <see cref="HostPolitenessState"/> in memory only: politeness is soft state. If the grain is
/// collected or its silo dies, the next activation fetches robots.txt again and spacing restarts from
/// that moment, which costs at most one early request, never a disallowed one.
/// </summary>
public sealed class CrawlHostGrain : Grain, ICrawlHostGrain
{
    private HostPolitenessState? host;

    /// <summary>Crawls and image fetches share the host: the most careful settings any of them gave apply.</summary>
    private HostPolitenessState For(CrawlHostSettings settings)
    {
        if (host is null) return host = new HostPolitenessState(settings.ToOptions(), settings.ProductToken);
        host.AdoptStricter(settings.ToOptions());
        return host;
    }

    public Task<HostRobotsAnswer> ClaimRobots(CrawlHostSettings settings)
    {
        var state = For(settings);
        var claim = state.ClaimRobots(DateTimeOffset.UtcNow);
        return Task.FromResult(claim switch
        {
            RobotsClaim.Known => new HostRobotsAnswer(HostRobotsClaim.Known, state.Robots!.Status.ToString(), state.Robots.Text),
            RobotsClaim.FetchIt => new HostRobotsAnswer(HostRobotsClaim.FetchIt, null, null),
            _ => new HostRobotsAnswer(HostRobotsClaim.Wait, null, null),
        });
    }

    public Task PutRobots(string status, string? text, CrawlHostSettings settings)
    {
        For(settings).SetRobots(new RobotsFile(Enum.Parse<RobotsFileStatus>(status), text), DateTimeOffset.UtcNow);
        return Task.CompletedTask;
    }

    public Task<HostSlot> ReserveSlot(CrawlHostSettings settings)
    {
        var slot = For(settings).Reserve(DateTimeOffset.UtcNow);
        return Task.FromResult(new HostSlot(slot.Refused, slot.At, slot.Spacing));
    }

    public Task Report(bool failed, CrawlHostSettings settings)
    {
        For(settings).Report(failed, DateTimeOffset.UtcNow);
        return Task.CompletedTask;
    }

    public Task<CrawlHostStatus> GetStatus()
    {
        var origin = this.GetPrimaryKeyString();
        if (host is null) return Task.FromResult(new CrawlHostStatus(origin, CrawlHostStatus.RobotsNotAsked, null, null, null, 0));
        var robots = host.Robots?.Status.ToString() ?? (host.RobotsBeingFetched ? CrawlHostStatus.RobotsFetching : CrawlHostStatus.RobotsNotAsked);
        return Task.FromResult(new CrawlHostStatus(origin, robots, host.Delay,
            host.NextSlot == DateTimeOffset.MinValue ? null : host.NextSlot, host.OpenUntil, host.ConsecutiveFailures));
    }
}

/// <summary>
/// The crawler's (and the image downloader's) politeness answered by the cluster's <see cref="ICrawlHostGrain"/>s, one per
/// host. A host's robots.txt, once known, is kept here for this instance's life (a slice or a shard fetch): the first
/// answer stands at the grain too, and asking again for every request would ship the whole file each time.
/// </summary>
public sealed class GrainHostPoliteness(IGrainFactory grains, PolitenessOptions options, string productToken) : IHostPoliteness
{
    private static readonly TimeSpan RobotsPoll = TimeSpan.FromMilliseconds(50);
    private readonly CrawlHostSettings settings = CrawlHostSettings.From(options, productToken);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RobotsFile> knownRobots = new(StringComparer.OrdinalIgnoreCase);

    public async Task<RobotsFile> GetRobotsAsync(string origin, Func<CancellationToken, Task<RobotsFile>> fetch, CancellationToken cancellationToken)
    {
        if (knownRobots.TryGetValue(origin, out var known)) return known;
        var host = grains.GetGrain<ICrawlHostGrain>(origin);
        while (true)
        {
            var answer = await host.ClaimRobots(settings);
            switch (answer.Claim)
            {
                case HostRobotsClaim.Known:
                    return knownRobots.GetOrAdd(origin, new RobotsFile(Enum.Parse<RobotsFileStatus>(answer.Status!), answer.Text));
                case HostRobotsClaim.FetchIt:
                    var file = await fetch(cancellationToken);
                    await host.PutRobots(file.Status.ToString(), file.Text, settings);
                    // The grain keeps the first file it was given: ask it which one stands.
                    break;
                default:
                    await Task.Delay(RobotsPoll, cancellationToken);
                    break;
            }
        }
    }

    public async Task<bool> WaitForSlotAsync(string origin, CancellationToken cancellationToken)
    {
        var host = grains.GetGrain<ICrawlHostGrain>(origin);
        while (true)
        {
            var slot = (await host.ReserveSlot(settings)).ToSlot();
            if (slot.Refused) return false;
            var wait = slot.At - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
            if (!slot.IsStale(DateTimeOffset.UtcNow)) return true;
        }
    }

    public Task ReportAsync(string origin, bool failed, CancellationToken cancellationToken) =>
        grains.GetGrain<ICrawlHostGrain>(origin).Report(failed, settings);
}
