using CsCheck;
using Platform.Ingestion.Crawling;
using Xunit;

namespace Platform.Ingestion.Tests.Crawling;

public sealed class HostPolitenessStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly PolitenessOptions Options = new()
    {
        MinDelay = TimeSpan.FromSeconds(1),
        MaxCrawlDelay = TimeSpan.FromSeconds(5),
        BreakerFailures = 3,
        BreakerDuration = TimeSpan.FromSeconds(30),
        RobotsClaimTimeout = TimeSpan.FromSeconds(10),
    };

    [Fact]
    public void Slots_reserved_at_once_line_up_one_delay_apart_whatever_the_order_of_requests()
    {
        Gen.Int[0, 3000].Array[1, 20].Sample(offsetsMs =>
        {
            var state = new HostPolitenessState(Options, "bot");
            var slots = offsetsMs.Order().Select(ms => state.Reserve(T0.AddMilliseconds(ms))).ToList();
            Assert.All(slots, s => Assert.False(s.Refused));
            Assert.All(slots.Zip(slots.Skip(1)), p => Assert.True(p.Second.At - p.First.At >= Options.MinDelay));
            Assert.All(slots.Zip(offsetsMs.Order()), p => Assert.True(p.First.At >= T0.AddMilliseconds(p.Second)));
        });
    }

    [Fact]
    public void A_host_first_used_without_spacing_is_spaced_once_a_more_careful_user_asks_and_never_less_again()
    {
        var state = new HostPolitenessState(Options with { MinDelay = TimeSpan.Zero }, "bot");
        Assert.Equal(T0, state.Reserve(T0).At);
        Assert.Equal(T0, state.Reserve(T0).At);

        state.AdoptStricter(Options);
        state.AdoptStricter(Options with { MinDelay = TimeSpan.Zero });

        var first = state.Reserve(T0);
        var second = state.Reserve(T0);
        Assert.Equal(Options.MinDelay, second.At - first.At);
    }

    [Fact]
    public void Robots_rules_are_parsed_once_per_file_and_again_only_for_another_file()
    {
        var cache = new RobotsRulesCache("bot");
        var file = new RobotsFile(RobotsFileStatus.Found, "User-agent: *\nDisallow: /private/\n");

        var first = cache.For("http://a.test", file);
        var again = cache.For("http://a.test", file);
        var replaced = cache.For("http://a.test", new RobotsFile(RobotsFileStatus.Found, "User-agent: *\nDisallow: /\n"));

        Assert.Same(first, again);
        Assert.False(first.IsAllowed("/private/x"));
        Assert.True(first.IsAllowed("/public"));
        Assert.NotSame(first, replaced);
        Assert.False(replaced.IsAllowed("/public"));
    }

    [Fact]
    public void A_slot_taken_up_later_than_a_quarter_of_the_delay_is_stale()
    {
        var slot = new HostPolitenessState(Options, "bot").Reserve(T0);
        Assert.False(slot.IsStale(T0.AddMilliseconds(250)));
        Assert.True(slot.IsStale(T0.AddMilliseconds(251)));
    }

    [Theory]
    [InlineData("2", 2000)]
    [InlineData("0.5", 1000)] // below the minimum: the minimum holds
    [InlineData("60", 5000)]  // above the cap: capped
    public void Robots_crawl_delay_sets_the_spacing_within_the_minimum_and_the_cap(string crawlDelay, int expectedMs)
    {
        var state = new HostPolitenessState(Options, "bot");
        state.Reserve(T0);
        var answered = T0.AddMilliseconds(300);
        state.SetRobots(new RobotsFile(RobotsFileStatus.Found, $"User-agent: *\nCrawl-delay: {crawlDelay}\nDisallow: /x\n"), answered);
        var next = state.Reserve(answered);
        // The first request after robots.txt waits the delay from robots.txt's answer.
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), next.At - answered);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), state.Reserve(T0).At - next.At);
    }

    [Fact]
    public void Consecutive_failures_open_the_circuit_for_its_duration_and_one_more_failure_reopens_it()
    {
        var state = new HostPolitenessState(Options with { MinDelay = TimeSpan.Zero }, "bot");
        state.Report(failed: true, T0);
        state.Report(failed: true, T0);
        state.Report(failed: false, T0); // a success in between resets the count
        state.Report(failed: true, T0);
        state.Report(failed: true, T0);
        Assert.False(state.Reserve(T0).Refused);
        state.Report(failed: true, T0);
        Assert.True(state.Reserve(T0.AddSeconds(29)).Refused);
        Assert.Equal(T0.AddSeconds(30), state.Reserve(T0.AddSeconds(29)).OpenUntil);

        Assert.False(state.Reserve(T0.AddSeconds(30)).Refused);
        state.Report(failed: true, T0.AddSeconds(30));
        Assert.True(state.Reserve(T0.AddSeconds(31)).Refused);
        Assert.False(state.Reserve(T0.AddSeconds(60)).Refused);
        state.Report(failed: false, T0.AddSeconds(60));
        state.Report(failed: true, T0.AddSeconds(60));
        Assert.False(state.Reserve(T0.AddSeconds(61)).Refused);
    }

    [Fact]
    public void One_caller_fetches_robots_while_others_wait_until_it_answers_or_its_claim_times_out()
    {
        var state = new HostPolitenessState(Options, "bot");
        Assert.Equal(RobotsClaim.FetchIt, state.ClaimRobots(T0));
        Assert.Equal(RobotsClaim.Wait, state.ClaimRobots(T0.AddSeconds(5)));
        Assert.Equal(RobotsClaim.FetchIt, state.ClaimRobots(T0.AddSeconds(11)));
        state.SetRobots(new RobotsFile(RobotsFileStatus.Missing), T0.AddSeconds(12));
        state.SetRobots(new RobotsFile(RobotsFileStatus.Unreachable), T0.AddSeconds(12)); // a late duplicate changes nothing
        Assert.Equal(RobotsClaim.Known, state.ClaimRobots(T0.AddSeconds(12)));
        Assert.Equal(RobotsFileStatus.Missing, state.Robots!.Status);
    }
}
