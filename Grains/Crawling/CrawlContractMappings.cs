using Platform.Ingestion.Crawling;

namespace Platform.Grains.Crawling;

/// <summary>
/// Turns the crawl contracts' plain records into the crawler library's types and back. They live here, not on the
/// records, because the contracts reference none of the platform's libraries.
/// </summary>
public static class CrawlContractMappings
{
    extension(CrawlJobSettings settings)
    {
        public CrawlOptions ToOptions(IReadOnlyList<string> allowedDomains) => new()
        {
            AllowedDomains = allowedDomains,
            MaxDepth = settings.MaxDepth,
            MaxPages = settings.MaxPages,
            FetchImages = settings.FetchImages,
            RequestTimeout = settings.RequestTimeout,
            RobotsTimeout = settings.RobotsTimeout,
            MaxRedirects = settings.MaxRedirects,
            AllowLoopback = settings.AllowLoopback,
            Concurrency = settings.ConcurrencyPerSlice,
            Politeness = new PolitenessOptions { MinDelay = settings.MinDelay, MaxCrawlDelay = settings.MaxCrawlDelay },
        };
    }

    extension(CrawlTargetRecord record)
    {
        public CrawlTarget ToTarget() => new(record.Url, record.IsImage ? CrawlTargetKind.Image : CrawlTargetKind.Page, record.Depth);

        public static CrawlTargetRecord From(CrawlTarget target) => new(target.Url, target.Kind == CrawlTargetKind.Image, target.Depth);
    }

    extension(HostSlot slot)
    {
        public FetchSlot ToSlot() => new(slot.At, slot.Refused ? slot.At : null, slot.Spacing);
    }

    extension(CrawlHostSettings settings)
    {
        public static CrawlHostSettings From(PolitenessOptions options, string productToken) =>
            new(productToken, options.MinDelay, options.MaxCrawlDelay, options.BreakerFailures, options.BreakerDuration, options.RobotsClaimTimeout);

        public PolitenessOptions ToOptions() => new()
        {
            MinDelay = settings.MinDelay,
            MaxCrawlDelay = settings.MaxCrawlDelay,
            BreakerFailures = settings.BreakerFailures,
            BreakerDuration = settings.BreakerDuration,
            RobotsClaimTimeout = settings.RobotsClaimTimeout,
        };
    }
}
